"""Test stand-in for openedx.core.djangoapps.content; mirrors FACTS.md."""
