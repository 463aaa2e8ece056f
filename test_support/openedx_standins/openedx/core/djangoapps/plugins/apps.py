"""
Test stand-in for openedx/core/djangoapps/plugins/apps.py; mirrors FACTS.md.

The platform connects every plugin's signal receivers when this app is ready.
"""

from django.apps import AppConfig
from django.conf import settings
from edx_django_utils.plugins import connect_plugin_receivers


class PluginsConfig(AppConfig):
    name = "openedx.core.djangoapps.plugins"
    plugin_app = {}

    def ready(self):
        connect_plugin_receivers(getattr(settings, "PROJECT_TYPE", "cms.djangoapp"))
