"""Test stand-in for openedx.core; mirrors the platform's module of that name."""
