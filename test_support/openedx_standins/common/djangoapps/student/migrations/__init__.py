"""Test stand-in for common.djangoapps.student.migrations; mirrors FACTS.md."""
