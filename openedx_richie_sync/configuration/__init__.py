"""
Read and validate the ``RICHIE_SYNC`` setting.

Parsing is pure: :func:`parse` turns the raw setting into typed, frozen objects plus a list of
problems. System checks (``checks.py``) report the problems; the runtime (:func:`get_config`)
skips invalid instances so that one typo never stops delivery to the healthy ones.

``schema`` (the objects), ``parsing`` (the per-key tables), ``legacy`` (the earlier plugin's
settings), ``site_policy`` (site configuration per organisation) and ``runtime`` (this process's
cached configuration); every public name is importable from here.

.. setting_name: RICHIE_SYNC
.. setting_default: {"INSTANCES": []}
.. setting_description: Richie instances to keep in sync with this platform, and the global knobs
   of the synchronization (retries, Celery queue, languages, payload hook). See docs/configuration.md.
"""

from .legacy import (
    LEGACY_DEFAULT_TEMPLATE,
    LEGACY_FALSE_STRINGS,
    LEGACY_SETTINGS,
    from_legacy,
    legacy_flag,
    raw_setting,
)
from .parsing import GLOBAL_KEYS, INSTANCE_KEYS, parse, parse_instance, redact_url
from .runtime import clear_config_cache, error_problems, get_config, get_config_and_problems
from .schema import (
    DEFAULT_RESOURCE_LINK_TEMPLATE,
    ENROLLMENT_START_FALLBACKS,
    MAX_NAME_LENGTH,
    NUMBER_RANGES,
    RESOURCE_LINK_FIELDS,
    Instance,
    Problem,
    SyncConfig,
)
from .site_policy import OrgPolicy, parse_org_policy

__all__ = [
    "DEFAULT_RESOURCE_LINK_TEMPLATE",
    "ENROLLMENT_START_FALLBACKS",
    "GLOBAL_KEYS",
    "INSTANCE_KEYS",
    "LEGACY_DEFAULT_TEMPLATE",
    "LEGACY_FALSE_STRINGS",
    "LEGACY_SETTINGS",
    "MAX_NAME_LENGTH",
    "NUMBER_RANGES",
    "RESOURCE_LINK_FIELDS",
    "Instance",
    "OrgPolicy",
    "Problem",
    "SyncConfig",
    "clear_config_cache",
    "error_problems",
    "from_legacy",
    "get_config",
    "get_config_and_problems",
    "legacy_flag",
    "parse",
    "parse_instance",
    "parse_org_policy",
    "raw_setting",
    "redact_url",
]
