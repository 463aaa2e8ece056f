"""Test stand-in for openedx.core.djangoapps.content.course_overviews.migrations; mirrors the platform's module of that name."""
