"""Test stand-in for openedx.core.djangoapps.site_configuration.apps; mirrors the platform's module of that name."""

from django.apps import AppConfig


class SiteConfigurationConfig(AppConfig):
    """App config of the site_configuration stand-in."""

    name = "openedx.core.djangoapps.site_configuration"
    label = "site_configuration"
    default_auto_field = "django.db.models.AutoField"
