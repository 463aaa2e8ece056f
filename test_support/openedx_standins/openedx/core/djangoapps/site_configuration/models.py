"""
Test stand-in for ``openedx.core.djangoapps.site_configuration.models``.

Mirrors the platform's ``SiteConfiguration`` (``get_value``, ``get_configuration_for_org``,
``get_value_for_org``, ``get_all_orgs``, ``has_org``).

A configuration serves an org when its ``course_org_filter`` (a string or a list of strings)
contains it, case-sensitively, and it is enabled. The platform reads the first matching
configuration of an unordered query, so when two configurations claim one org either may win:
the stand-in asks the database for a random order (``order_by("?")``) so that nothing can rely
on one. Every call queries the database. Uses Django's own JSONField where the platform uses the
``jsonfield`` package (the platform pre-filters with a substring match on the JSON text; the
stand-in filters in Python only); the history table is left out.
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

    @staticmethod
    def _orgs_of(configuration):
        org_filter = configuration.get_value("course_org_filter", [])
        return org_filter if isinstance(org_filter, list) else [org_filter]

    @classmethod
    def get_configuration_for_org(cls, org, select_related=None):
        """An enabled configuration whose ``course_org_filter`` holds ``org`` (any of them, if several), or None."""
        query = cls.objects.filter(enabled=True).order_by("?")  # no ordering guarantee, as in the platform
        if select_related is not None:
            query = query.select_related(*select_related)
        for configuration in query:
            if org in cls._orgs_of(configuration):
                return configuration
        return None

    @classmethod
    def get_value_for_org(cls, org, name, default=None):
        """The value ``name`` of the configuration serving ``org`` (``get_configuration_for_org``), else ``default``."""
        configuration = cls.get_configuration_for_org(org)
        if configuration is None:
            return default
        return configuration.get_value(name, default)

    @classmethod
    def get_all_orgs(cls):
        """Every org named in an enabled configuration's ``course_org_filter``."""
        orgs = set()
        for configuration in cls.objects.filter(enabled=True):
            orgs.update(cls._orgs_of(configuration))
        return orgs

    @classmethod
    def has_org(cls, org):
        return org in cls.get_all_orgs()
