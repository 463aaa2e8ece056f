"""Plugin settings shared by every environment (loaded before the platform's YAML file)."""


def plugin_settings(settings):
    """Declare ``RICHIE_SYNC`` so that the YAML file (or a Tutor patch) can override it."""
    if not hasattr(settings, "RICHIE_SYNC"):
        settings.RICHIE_SYNC = {"INSTANCES": []}
