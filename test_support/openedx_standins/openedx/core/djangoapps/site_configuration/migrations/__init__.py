"""Test stand-in for openedx.core.djangoapps.site_configuration.migrations; mirrors FACTS.md."""
