"""Test stand-in for openedx.core.djangoapps.site_configuration.helpers; mirrors FACTS.md.

Only ``get_value_for_org`` is provided. Like the platform's, it needs no request.
"""


def get_value_for_org(org, val_name, default=None):
    """Return ``val_name`` from the enabled site configuration serving ``org``.

    A configuration serves ``org`` when its ``course_org_filter`` value (a string
    or a list of strings) contains it (exact, case-sensitive match). The first
    such configuration is used; without one, ``default`` is returned.
    """
    # Imported here, as in the platform, to avoid importing models at startup.
    from openedx.core.djangoapps.site_configuration.models import SiteConfiguration

    for configuration in SiteConfiguration.objects.filter(enabled=True).order_by("id"):
        org_filter = configuration.get_value("course_org_filter", [])
        if not isinstance(org_filter, list):
            org_filter = [org_filter]
        if org in org_filter:
            return configuration.get_value(val_name, default)
    return default
