"""Test stand-in for xmodule.modulestore; mirrors FACTS.md."""
