"""Test stand-in for common; mirrors FACTS.md."""
