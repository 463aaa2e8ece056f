"""
Test stand-in for ``openedx.core.djangoapps.plugins.apps``.

Mirrors the platform's ``PluginsConfig``: when ready it connects every plugin's signal receivers for
the project type it reads from ``ROOT_URLCONF`` (``lms.urls`` → LMS, anything else → CMS). Left out:
its own plugin settings.
"""

from django.apps import AppConfig
from django.conf import settings
from edx_django_utils.plugins import connect_plugin_receivers


class PluginsConfig(AppConfig):
    """App config that connects the plugins' signal receivers once every app is loaded."""

    name = "openedx.core.djangoapps.plugins"
    plugin_app = {}

    def ready(self):
        project_type = "lms.djangoapp" if settings.ROOT_URLCONF == "lms.urls" else "cms.djangoapp"
        connect_plugin_receivers(project_type)
