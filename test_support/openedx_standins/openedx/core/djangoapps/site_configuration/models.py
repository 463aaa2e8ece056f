"""Test stand-in for openedx.core.djangoapps.site_configuration.models; mirrors FACTS.md.

Uses Django's own JSONField where the platform uses the ``jsonfield`` package;
the history table is left out.
"""

from django.contrib.sites.models import Site
from django.db import models


class SiteConfiguration(models.Model):
    """Per-site configuration values (``site_values``), used when ``enabled``."""

    site = models.OneToOneField(Site, related_name="configuration", on_delete=models.CASCADE)
    enabled = models.BooleanField(default=False, verbose_name="Enabled")
    site_values = models.JSONField(null=False, blank=True, default=dict)

    class Meta:
        app_label = "site_configuration"

    def __str__(self):
        return f"<SiteConfiguration: {self.site} >"

    def get_value(self, name, default=None):
        """Return ``site_values[name]`` (or ``default``); ``default`` when disabled."""
        if self.enabled and isinstance(self.site_values, dict):
            return self.site_values.get(name, default)
        return default
