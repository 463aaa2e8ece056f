"""Test stand-in for openedx; mirrors FACTS.md."""
