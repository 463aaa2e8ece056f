"""Runtime switches, changed in the Django admin (Waffle › Switches) without a deploy."""

from edx_toggles.toggles import WaffleSwitch
from waffle import switch_is_active  # pylint: disable=invalid-django-waffle-import

# .. toggle_name: richie_sync.pause_deliveries
# .. toggle_implementation: WaffleSwitch
# .. toggle_default: False
# .. toggle_description: Pauses every delivery to Richie (publish path, sweep and resync command)
#   while Richie is under maintenance. Changes made meanwhile are recorded as pending and delivered
#   by the sweep (or `sync_courses_to_richie --pending`) once the switch is turned off.
# .. toggle_use_cases: temporary
# .. toggle_creation_date: 2026-11-28
# .. toggle_target_removal_date: None
# .. toggle_warning: Turning it on for good stops the catalog from following Studio; prefer
#   ENABLED: False on an instance to stop one Richie site.
PAUSE_DELIVERIES = WaffleSwitch("richie_sync.pause_deliveries", __name__)


def deliveries_paused():
    """
    Whether the pause switch is on, read from the database at each call.

    Read the switch itself, not ``WaffleSwitch.is_enabled``: that caches the value in the request
    cache. The platform clears the request cache at the end of each request and after each Celery
    task (``task_postrun``), but nothing clears it inside a long management command (the resync
    command, a sweep loop), so a value cached there would hold for the whole run and turning the
    switch off would not resume it. ``switch_is_active`` still goes through django-waffle's own
    cache (Django's default cache, shared by LMS and CMS under Tutor), which waffle flushes when the
    switch is saved, once the change is committed.
    """
    return switch_is_active(PAUSE_DELIVERIES.name)
