"""Helpers shared by the test modules (imported, never through ``conftest``)."""

from datetime import datetime, timezone

from django.contrib.sites.models import Site
from opaque_keys.edx.keys import CourseKey

SECRET = "peer-secret-1"


def instance_settings(name, url, secret=SECRET, **extra):
    """One entry of RICHIE_SYNC's INSTANCES (the shared test secret unless told otherwise)."""
    return {"NAME": name, "URL": url, "SECRET": secret, **extra}


def make_course(course_id="course-v1:DemoX+Demo101+2026", **fields):
    """
    The course in the modulestore and its CourseOverview row, as Studio's publish leaves them.

    The row is written directly (no signal is sent); ``test_support.studio.publish`` then
    publishes the same course the way Studio does.
    """
    from openedx.core.djangoapps.content.course_overviews.models import (  # pylint: disable=import-outside-toplevel
        CourseOverview,
    )
    from xmodule.modulestore.django import modulestore  # pylint: disable=import-outside-toplevel

    key = CourseKey.from_string(course_id)
    values = {
        "org": key.org,
        "display_name": f"Course {key.course}",
        "start": datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc),
        "end": datetime(2026, 12, 20, 18, 0, tzinfo=timezone.utc),
        "enrollment_start": datetime(2026, 6, 1, tzinfo=timezone.utc),
        "enrollment_end": datetime(2026, 9, 15, tzinfo=timezone.utc),
        "language": "en",
        "catalog_visibility": "both",
    }
    values.update(fields)
    modulestore().save_course(key, **{name: value for name, value in values.items() if name != "org"})
    return CourseOverview.objects.update_or_create(id=key, defaults=values)[0]


def delivery(course_id, instance_name, generation, force=False):
    """The keyword arguments of the ``sync_course_run`` message for one delivery."""
    kwargs = {"course_id": course_id, "instance_name": instance_name, "generation": generation}
    if force:
        kwargs["force"] = True
    return kwargs


def site_configuration(org, **values):
    """An enabled site configuration for the organisation ``org``, holding ``values``."""
    from openedx.core.djangoapps.site_configuration.models import (  # pylint: disable=import-outside-toplevel
        SiteConfiguration,
    )

    site = Site.objects.create(domain=f"{org.lower()}.example.com", name=org)
    return SiteConfiguration.objects.create(site=site, enabled=True, site_values={"course_org_filter": [org], **values})


def link(course_id, root="https://lms.example.com"):
    """The resource link Richie receives for the course run ``course_id`` of the LMS at ``root``."""
    return f"{root}/courses/{course_id}/info"


def sweep_task_result():
    """Run the periodic sweep task in-process; return its result."""
    from openedx_richie_sync.tasks import sweep_richie_sync  # pylint: disable=import-outside-toplevel

    return sweep_richie_sync.apply().get()
