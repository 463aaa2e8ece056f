"""Django application for openedx-richie-sync, registered through the Open edX plugin framework."""

from django.apps import AppConfig
from edx_django_utils.plugins import PluginSettings, PluginSignals

COURSE_PUBLISHED = "xmodule.modulestore.django.COURSE_PUBLISHED"
COURSE_DELETED = "xmodule.modulestore.django.COURSE_DELETED"
ENROLL_STATUS_CHANGE = "common.djangoapps.student.signals.signals.ENROLL_STATUS_CHANGE"


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
            "cms.djangoapp": {
                PluginSignals.RELATIVE_PATH: "signals",
                PluginSignals.RECEIVERS: [
                    {
                        PluginSignals.RECEIVER_FUNC_NAME: "course_published",
                        PluginSignals.SIGNAL_PATH: COURSE_PUBLISHED,
                        PluginSignals.DISPATCH_UID: "openedx_richie_sync.course_published",
                    },
                    {
                        PluginSignals.RECEIVER_FUNC_NAME: "course_deleted",
                        PluginSignals.SIGNAL_PATH: COURSE_DELETED,
                        PluginSignals.DISPATCH_UID: "openedx_richie_sync.course_deleted",
                    },
                ],
            },
            "lms.djangoapp": {
                PluginSignals.RELATIVE_PATH: "signals",
                PluginSignals.RECEIVERS: [
                    {
                        PluginSignals.RECEIVER_FUNC_NAME: "enrollment_changed",
                        PluginSignals.SIGNAL_PATH: ENROLL_STATUS_CHANGE,
                        PluginSignals.DISPATCH_UID: "openedx_richie_sync.enrollment_changed",
                    },
                ],
            },
        },
    }

    def ready(self):
        from . import checks  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
