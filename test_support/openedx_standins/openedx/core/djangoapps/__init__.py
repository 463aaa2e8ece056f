"""Test stand-in for openedx.core.djangoapps; mirrors FACTS.md."""
