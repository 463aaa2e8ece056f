"""Test stand-in for openedx.core.djangoapps.site_configuration; mirrors FACTS.md."""
