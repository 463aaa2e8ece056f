"""Django application for openedx-richie-sync, registered through the Open edX plugin framework."""

from django.apps import AppConfig
from edx_django_utils.plugins import PluginSettings, PluginSignals

COURSE_PUBLISHED = "xmodule.modulestore.django.COURSE_PUBLISHED"
COURSE_DELETED = "xmodule.modulestore.django.COURSE_DELETED"
COURSE_ENROLLMENT_CHANGED = "openedx_events.learning.signals.COURSE_ENROLLMENT_CHANGED"
COURSE_MODE = "common.djangoapps.course_modes.models.CourseMode"
SITE_CONFIGURATION = "openedx.core.djangoapps.site_configuration.models.SiteConfiguration"


def _receiver(function, signal_path, sender_path=None):
    """One receiver entry of the plugin framework's ``signals_config``."""
    receiver = {
        PluginSignals.RECEIVER_FUNC_NAME: function,
        PluginSignals.SIGNAL_PATH: signal_path,
        PluginSignals.DISPATCH_UID: f"openedx_richie_sync.{function}.{signal_path.rsplit('.', 1)[-1]}",
    }
    if sender_path:
        receiver[PluginSignals.SENDER_PATH] = sender_path
    return receiver


# Enrollments, course modes and site configurations change in either service (LMS views and admin, ecommerce, CMS
# management commands and tasks); courses are published in the CMS only.
BOTH_SERVICES = [
    _receiver("enrollment_changed", COURSE_ENROLLMENT_CHANGED),
    _receiver("course_mode_changed", "django.db.models.signals.post_save", COURSE_MODE),
    _receiver("course_mode_changed", "django.db.models.signals.post_delete", COURSE_MODE),
    _receiver("site_configuration_changed", "django.db.models.signals.post_save", SITE_CONFIGURATION),
    _receiver("site_configuration_changed", "django.db.models.signals.post_delete", SITE_CONFIGURATION),
]
RECEIVERS = {
    "lms.djangoapp": BOTH_SERVICES,
    "cms.djangoapp": [_receiver("course_published", COURSE_PUBLISHED), _receiver("course_deleted", COURSE_DELETED)]
    + BOTH_SERVICES,
}


class RichieSyncConfig(AppConfig):
    """Loaded in the CMS (where courses are published) and the LMS (where learners enroll)."""

    name = "openedx_richie_sync"
    label = "richie_sync"
    verbose_name = "Richie catalog synchronization"
    default_auto_field = "django.db.models.BigAutoField"

    plugin_app = {
        PluginSettings.CONFIG: {
            project_type: {
                "common": {PluginSettings.RELATIVE_PATH: "settings.common"},
                "production": {PluginSettings.RELATIVE_PATH: "settings.production"},
            }
            for project_type in ("lms.djangoapp", "cms.djangoapp")
        },
        PluginSignals.CONFIG: {
            project_type: {PluginSignals.RELATIVE_PATH: "signals", PluginSignals.RECEIVERS: receivers}
            for project_type, receivers in RECEIVERS.items()
        },
    }

    def ready(self):
        from . import checks  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
