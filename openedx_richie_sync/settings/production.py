"""Plugin settings for production (loaded after the platform's YAML file)."""

from ..configuration.legacy import LEGACY_SETTINGS


def plugin_settings(settings):
    """
    Take ``RICHIE_SYNC`` from ``ENV_TOKENS`` on platforms whose YAML loader only fills that dict.

    Recent platforms already set top-level YAML keys as settings; this keeps older ones working.
    """
    env_tokens = getattr(settings, "ENV_TOKENS", None) or {}
    for name in LEGACY_SETTINGS + ("RICHIE_SYNC",):
        if name in env_tokens:
            setattr(settings, name, env_tokens[name])
