"""Test stand-in for xmodule; mirrors FACTS.md."""
