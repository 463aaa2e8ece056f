"""Test stand-in for openedx.core.djangoapps.plugins; mirrors FACTS.md."""
