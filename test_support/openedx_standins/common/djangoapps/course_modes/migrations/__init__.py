"""Test stand-in for common.djangoapps.course_modes.migrations; mirrors the platform's module of that name."""
