"""
Test stand-in for ``openedx.core.djangoapps.site_configuration.helpers``.

Mirrors the platform's ``get_value_for_org``: ``SiteConfiguration.has_org(org)`` first, then
``SiteConfiguration.get_value_for_org`` (see the model for the matching rules). Like the platform's,
it needs no request and caches nothing: each call queries the database. Left out: the request-bound
helpers (``get_value``, ``get_dict``...) and the microsite fallback.
"""


def get_value_for_org(org, val_name, default=None):
    """The value ``val_name`` of an enabled site configuration serving ``org``, else ``default``."""
    # Imported here, as in the platform, to avoid importing models at startup.
    from openedx.core.djangoapps.site_configuration.models import (  # pylint: disable=import-outside-toplevel
        SiteConfiguration,
    )

    if SiteConfiguration.has_org(org):
        return SiteConfiguration.get_value_for_org(org, val_name, default)
    return default
