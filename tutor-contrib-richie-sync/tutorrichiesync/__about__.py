"""The plugin's version: released in step with openedx-richie-sync, the package it installs."""

__version__ = "0.1.0"
