"""Test stand-in for common.djangoapps.student; mirrors the platform's module of that name."""
