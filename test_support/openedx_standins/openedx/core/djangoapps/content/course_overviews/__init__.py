"""Test stand-in for openedx.core.djangoapps.content.course_overviews; mirrors FACTS.md."""
