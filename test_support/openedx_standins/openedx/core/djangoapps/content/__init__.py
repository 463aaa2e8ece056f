"""Test stand-in for openedx.core.djangoapps.content; mirrors the platform's module of that name."""
