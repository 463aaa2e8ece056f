"""Plugin settings for production (loaded after the platform's YAML file)."""


def plugin_settings(settings):
    """
    Take ``RICHIE_SYNC`` from ``ENV_TOKENS`` on platforms whose YAML loader only fills that dict.

    Recent platforms already set top-level YAML keys as settings; this keeps older ones working.
    """
    env_tokens = getattr(settings, "ENV_TOKENS", None) or {}
    if "RICHIE_SYNC" in env_tokens:
        settings.RICHIE_SYNC = env_tokens["RICHIE_SYNC"]
