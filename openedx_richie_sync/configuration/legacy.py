"""
The earlier ``richie-openedx-sync`` plugin's settings, read with their meaning.

Replacing that plugin must need no configuration change: without ``RICHIE_SYNC`` instances, its
``RICHIE_OPENEDX_SYNC_*`` settings (Django settings, ``ENV_TOKENS`` or site configuration) are
turned into ``RICHIE_SYNC``-shaped values, which ``parsing`` then validates like any other.
"""

import json
from urllib.parse import urlsplit

from django.conf import settings

# Its Django settings (``settings/production.py`` also takes them from ``ENV_TOKENS``).
LEGACY_SETTINGS = (
    "RICHIE_OPENEDX_SYNC_COURSE_HOOKS",
    "RICHIE_OPENEDX_SYNC_LANGUAGE_MAPPING",
    "RICHIE_OPENEDX_SYNC_INCLUDE_PAYMENT_FIELDS",
)
LEGACY_DEFAULT_TEMPLATE = "https://{lms_domain}/courses/{course_id}/info"
LEGACY_FALSE_STRINGS = frozenset({"", "0", "false", "no", "off", "none", "null"})


def legacy_flag(value):
    """
    A flag of the earlier plugin, read with its meaning.

    YAML files and site configurations often hold ``"false"`` or ``"0"`` as strings, which must
    not turn prices on.
    """
    if isinstance(value, str):
        return value.strip().lower() not in LEGACY_FALSE_STRINGS
    return bool(value)


def _legacy_instance(hook, name, include_payment_fields):
    """One ``RICHIE_SYNC`` instance for a hook (what ``parse`` cannot use, it reports)."""
    timeout = hook.get("timeout", 5)
    try:
        timeout = float(timeout)
    except (TypeError, ValueError):
        pass  # parse() reports it
    return {
        "NAME": name,
        "URL": hook.get("url"),
        "SECRET": hook.get("secret"),
        "TIMEOUT": timeout,
        "RESOURCE_LINK_TEMPLATE": hook.get("resource_link_template") or LEGACY_DEFAULT_TEMPLATE,
        "SEND_PRICES": legacy_flag(include_payment_fields),
        # HTTP basic auth would replace the signature header: reported as an ignored key.
        **({"auth_user": "(ignored)"} if "auth_user" in hook else {}),
    }


def from_legacy(hooks, language_mapping=None, include_payment_fields=False):
    """
    ``RICHIE_SYNC``-shaped settings from the earlier ``richie-openedx-sync`` plugin's.

    Its ``RICHIE_OPENEDX_SYNC_COURSE_HOOKS`` items (``url``, ``secret``, ``timeout``,
    ``resource_link_template`` with ``{lms_domain}`` and ``{course_id}``) become instances named
    after their host, so that their sync state survives restarts.
    """
    instances, names = [], set()
    if not isinstance(hooks, (list, tuple)):
        hooks = [hooks] if hooks else []  # a lone dict, or garbage that parse() reports
    for hook in hooks:
        if not isinstance(hook, dict):
            instances.append(hook)  # reported by parse() as an invalid instance
            continue
        host = urlsplit(str(hook.get("url", ""))).hostname or "richie"
        name, index = host, 2
        while name in names:
            name, index = f"{host}-{index}", index + 1
        names.add(name)
        instances.append(_legacy_instance(hook, name, include_payment_fields))
    raw = {"INSTANCES": instances}
    if isinstance(language_mapping, str):  # a JSON string, as some YAML files hold it
        try:
            language_mapping = json.loads(language_mapping)
        except ValueError:
            language_mapping = {"<RICHIE_OPENEDX_SYNC_LANGUAGE_MAPPING is not valid JSON>": None}
    if language_mapping:
        raw["LANGUAGE_MAPPING"] = language_mapping  # parse() reports a value that is not a dict
    return raw


def raw_setting():
    """
    The raw setting (``settings/production.py`` already folded ``ENV_TOKENS`` into it).

    Without ``RICHIE_SYNC`` instances, the settings of the earlier ``richie-openedx-sync`` plugin
    are read with the same meaning, so that replacing that plugin needs no configuration change.
    """
    raw = getattr(settings, "RICHIE_SYNC", None)
    if isinstance(raw, dict) and raw.get("INSTANCES"):
        return raw
    hooks = getattr(settings, "RICHIE_OPENEDX_SYNC_COURSE_HOOKS", None)
    if not hooks:
        return raw
    legacy = from_legacy(
        hooks,
        getattr(settings, "RICHIE_OPENEDX_SYNC_LANGUAGE_MAPPING", None),
        getattr(settings, "RICHIE_OPENEDX_SYNC_INCLUDE_PAYMENT_FIELDS", False),
    )
    if isinstance(raw, dict):  # global knobs of RICHIE_SYNC still apply to the legacy instances
        legacy.update({key: value for key, value in raw.items() if key != "INSTANCES"})
    return legacy
