"""Test stand-in for common.djangoapps.student; mirrors FACTS.md."""
