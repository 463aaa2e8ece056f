"""Test stand-in for openedx.core.djangoapps.content.course_overviews.migrations; mirrors FACTS.md."""
