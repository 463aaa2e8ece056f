"""
Test stand-in for ``openedx.core.djangoapps.util.apps``.

Mirrors the platform's app config (its ``ready`` connects ``signals``).
"""

from django.apps import AppConfig


class UtilConfig(AppConfig):
    """App config of the util stand-in: connecting its ``task_postrun`` receiver is all it does."""

    name = "openedx.core.djangoapps.util"
    label = "open_edx_util"
    verbose_name = "Open edX Utilities"

    def ready(self):
        from . import signals  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
