"""Test stand-in for openedx.core.djangoapps.plugins; mirrors the platform's module of that name."""
