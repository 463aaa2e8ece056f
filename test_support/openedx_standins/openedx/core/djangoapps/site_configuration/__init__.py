"""Test stand-in for openedx.core.djangoapps.site_configuration; mirrors the platform's module of that name."""
