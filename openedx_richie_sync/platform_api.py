"""
Everything this plugin reads from the Open edX platform, in one place.

This is the only module that imports platform code (lazily, inside functions, so that importing
it never requires the platform's apps to be loaded). Everything else works on the plain
``payload.CourseRun`` snapshots returned here.
"""

from django.conf import settings
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey
from opaque_keys.edx.locator import CourseLocator

from .payload import CourseRun


def course_run_key(value):
    """
    The ``CourseLocator`` for ``value`` when it names a plain course run, else None.

    CCX keys (LMS re-sends course_published with them) and library keys are not Richie runs.
    """
    if isinstance(value, str):
        try:
            value = CourseKey.from_string(value)
        except InvalidKeyError:
            return None
    # CCXLocator subclasses CourseLocator: compare the exact type.
    if type(value) is not CourseLocator or not value.org:  # pylint: disable=unidiomatic-typecheck
        return None
    return value.replace(branch=None, version_guid=None)


def lms_root_url():
    """The LMS URL with scheme, as learners reach it (``LMS_ROOT_URL``)."""
    return getattr(settings, "LMS_ROOT_URL", "") or ""


def _snapshot(overview, enrollment_count):
    return CourseRun(
        course_id=str(overview.id),
        org=overview.org or overview.id.org,
        start=overview.start,
        end=overview.end,
        enrollment_start=overview.enrollment_start,
        enrollment_end=overview.enrollment_end,
        language=overview.language,
        catalog_visibility=overview.catalog_visibility,
        enrollment_count=enrollment_count,
        lms_root_url=lms_root_url(),
    )


def active_enrollment_count(course_key):
    from common.djangoapps.student.models import CourseEnrollment  # pylint: disable=import-outside-toplevel

    return CourseEnrollment.objects.filter(course_id=course_key, is_active=True).count()


def load_course_run(course_id):
    """
    The current state of ``course_id`` (a string), or None when the course does not exist.

    ``get_from_id`` rebuilds an outdated overview from the modulestore, so a task that runs after
    a publish always reads what was published.
    """
    from openedx.core.djangoapps.content.course_overviews.models import (  # pylint: disable=import-outside-toplevel
        CourseOverview,
    )

    course_key = course_run_key(course_id)
    if course_key is None:
        return None
    try:
        overview = CourseOverview.get_from_id(course_key)
    except CourseOverview.DoesNotExist:
        return None
    return _snapshot(overview, active_enrollment_count(course_key))
