"""Test stand-in for common.djangoapps.student.migrations; mirrors the platform's module of that name."""
