"""Test stand-in for common.djangoapps.course_modes.migrations; mirrors FACTS.md."""
