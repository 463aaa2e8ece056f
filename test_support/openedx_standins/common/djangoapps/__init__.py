"""Test stand-in for common.djangoapps; mirrors FACTS.md."""
