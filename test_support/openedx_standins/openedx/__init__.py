"""Test stand-in for openedx; mirrors the platform's module of that name."""
