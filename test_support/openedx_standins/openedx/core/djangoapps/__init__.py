"""Test stand-in for openedx.core.djangoapps; mirrors the platform's module of that name."""
