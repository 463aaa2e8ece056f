"""Keep Richie course catalogs in step with an Open edX platform."""

__version__ = "0.1.0"
