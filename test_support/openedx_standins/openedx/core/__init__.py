"""Test stand-in for openedx.core; mirrors FACTS.md."""
