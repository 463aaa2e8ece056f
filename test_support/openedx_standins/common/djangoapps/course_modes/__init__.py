"""Test stand-in for common.djangoapps.course_modes; mirrors FACTS.md."""
