"""Test stand-in for common.djangoapps.course_modes; mirrors the platform's module of that name."""
