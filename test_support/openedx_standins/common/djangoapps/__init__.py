"""Test stand-in for common.djangoapps; mirrors the platform's module of that name."""
