"""Test stand-in for openedx.core.djangoapps.content.course_overviews; mirrors the platform's module of that name."""
