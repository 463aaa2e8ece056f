"""
Everything this plugin reads from the Open edX platform, in one place.

This is the only module that imports platform code (lazily, inside functions, so that importing
it never requires the platform's apps to be loaded). Everything else works on the plain
``data.CourseRun`` snapshots returned here.
"""

from django.conf import settings
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey
from opaque_keys.edx.locator import CourseLocator

from .data import CourseRun
from .payload import PayloadError


class CourseLoadError(PayloadError):
    """The platform cannot load the course: nothing can be sent until the course is fixed in Studio."""


def load_error_message(course_id, error):
    """
    What an operator reads when ``get_from_id`` raised ``OSError``.

    The platform raises ``OSError(template, course_id, error_message)`` unformatted; with three
    arguments Python keeps the third as ``filename``, not in ``args``.
    """
    parts = [str(part) for part in (*error.args, error.filename, error.filename2) if part is not None]
    template, *values = parts or [type(error).__name__]
    detail = template.format(*values) if template.count("{}") == len(values) else "; ".join([template, *values])
    return (
        f"the platform cannot load course {course_id} ({detail}). Open it in Studio, fix what Studio reports "
        "(broken XML, an invalid advanced setting), then publish it again: it is sent then"
    )


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


ORG_SITE_KEYS = (
    "RICHIE_SYNC",
    "RICHIE_OPENEDX_SYNC_COURSE_HOOKS",
    "RICHIE_OPENEDX_SYNC_INCLUDE_PAYMENT_FIELDS",
    "LMS_ROOT_URL",
    "LMS_BASE",
)


def org_site_values(org):
    """
    The site-configuration values this plugin reads for ``org`` (None when unset), from one configuration.

    ``get_value_for_org`` once per key would look the configuration up again for each key (a
    query and a JSON parse of every configuration each time) and, when two configurations claim
    the organisation, could take each key from a different one: the platform gives no order.
    """
    from openedx.core.djangoapps.site_configuration.models import (  # pylint: disable=import-outside-toplevel
        SiteConfiguration,
    )

    configuration = SiteConfiguration.get_configuration_for_org(org) if org else None
    return {name: configuration.get_value(name) if configuration else None for name in ORG_SITE_KEYS}


def course_modes(course_key):
    """``(slug, min_price, currency, expiration_datetime)`` of each selectable, unexpired mode of the course."""
    from common.djangoapps.course_modes.models import CourseMode  # pylint: disable=import-outside-toplevel

    return tuple(
        (mode.slug, mode.min_price, mode.currency, mode.expiration_datetime)
        for mode in CourseMode.modes_for_course(course_id=course_key)
    )


def _snapshot(overview, enrollment_count, root_url=None, modes=None):
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
        lms_root_url=root_url or lms_root_url(),
        modes=modes,
    )


def active_enrollment_count(course_key):
    from common.djangoapps.student.models import CourseEnrollment  # pylint: disable=import-outside-toplevel

    return CourseEnrollment.objects.filter(course_id=course_key, is_active=True).count()


def load_course_run(course_id, root_url=None, with_modes=False):
    """
    The current state of ``course_id`` (a string), or None when the course does not exist.

    ``get_from_id`` rebuilds an outdated overview from the modulestore, so a task that runs after
    a publish always reads what was published. ``root_url``: the organisation's LMS URL;
    ``with_modes``: read the course modes too (for prices).
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
    except OSError as error:  # the platform's answer for a course that fails to load (an ErrorBlock)
        raise CourseLoadError(load_error_message(course_id, error)) from error
    modes = course_modes(course_key) if with_modes else None
    return _snapshot(overview, active_enrollment_count(course_key), root_url, modes)


def _enrollment_counts(first_key, last_key):
    """
    Active enrollments per course for courses between two keys, in one grouped query.

    A key range (not a list of keys) keeps the query on the course index without parsing
    thousands of keys in Python; courses outside the chunk are simply ignored by the caller.
    """
    from common.djangoapps.student.models import CourseEnrollment  # pylint: disable=import-outside-toplevel
    from django.db.models import CharField, Count  # pylint: disable=import-outside-toplevel
    from django.db.models.functions import Cast  # pylint: disable=import-outside-toplevel

    rows = (
        CourseEnrollment.objects.filter(course_id__gte=first_key, course_id__lte=last_key, is_active=True)
        .values(key=Cast("course_id", output_field=CharField()))
        .annotate(count=Count("id"))
        .order_by()
    )
    return {row["key"]: row["count"] for row in rows}


def course_orgs():
    """The organisations that have courses (to find instances declared in site configuration)."""
    return list(_overviews(None, None).order_by().values_list("org", flat=True).distinct())


def count_course_runs(course_keys=None, orgs=None):
    return _overviews(course_keys, orgs).count()


def iter_course_keys(course_keys):
    """The keys among ``course_keys`` that have a course overview."""
    return _overviews(course_keys, None).values_list("id", flat=True).iterator()


def _overviews(course_keys, orgs):
    """The CourseOverview rows of these courses or organisations (all of them when both are empty)."""
    from openedx.core.djangoapps.content.course_overviews.models import (  # pylint: disable=import-outside-toplevel
        CourseOverview,
    )

    return CourseOverview.get_all_courses(orgs=orgs or None, course_keys=course_keys or None)


NOT_COURSE_RUNS = ("ccx-v1:", "ccx:", "library-v1:", "library:")


def iter_course_runs(course_keys=None, orgs=None, chunk_size=500):
    """
    Yield lists of ``CourseRun`` snapshots, ``chunk_size`` at a time, from the CourseOverview table.

    Keyset pagination keeps memory flat whatever the number of courses; rows are read as plain
    values (course keys as text, never parsed) and enrollment counts come in one grouped query per
    chunk. Modulestore course objects are never loaded.
    """
    from django.db.models import CharField  # pylint: disable=import-outside-toplevel
    from django.db.models.functions import Cast  # pylint: disable=import-outside-toplevel
    from openedx.core.djangoapps.content.course_overviews.models import (  # pylint: disable=import-outside-toplevel
        CourseOverview,
    )

    queryset = _overviews(course_keys, orgs).order_by("id").values_list(
        Cast("id", output_field=CharField()),
        "org", "start", "end", "enrollment_start", "enrollment_end", "language", "catalog_visibility", "version",
    )
    root_url = lms_root_url()
    last_key = None
    while True:
        page = queryset.filter(id__gt=last_key) if last_key is not None else queryset
        rows = list(page[:chunk_size])
        if not rows:
            return
        first_key, last_key = CourseKey.from_string(rows[0][0]), CourseKey.from_string(rows[-1][0])
        counts = _enrollment_counts(first_key, last_key)
        yield [
            CourseRun(
                course_id=key, org=org, start=start, end=end, enrollment_start=enrollment_start,
                enrollment_end=enrollment_end, language=language, catalog_visibility=visibility,
                enrollment_count=counts.get(key, 0), lms_root_url=root_url,
            )
            if version is not None and version >= CourseOverview.VERSION
            else _refreshed(key, counts.get(key, 0), root_url)
            for key, org, start, end, enrollment_start, enrollment_end, language, visibility, version in rows
            if not key.startswith(NOT_COURSE_RUNS)
        ]


def _refreshed(course_id, enrollment_count, root_url):
    """
    The run of an overview row older than the platform's overview format, rebuilt first.

    ``get_all_courses`` returns rows as stored; the platform itself rebuilds an outdated row
    (``get_from_id``) before it trusts it, and so does the resync.
    """
    from openedx.core.djangoapps.content.course_overviews.models import (  # pylint: disable=import-outside-toplevel
        CourseOverview,
    )

    key = CourseKey.from_string(course_id)
    try:
        return _snapshot(CourseOverview.get_from_id(key), enrollment_count, root_url)
    except CourseOverview.DoesNotExist:
        return CourseRun(
            course_id=course_id, org=key.org, lms_root_url=root_url,
            load_error=f"course {course_id} has an outdated overview but no longer exists on the platform: "
            "nothing to send",
        )
    except OSError as error:
        return CourseRun(
            course_id=course_id, org=key.org, lms_root_url=root_url, load_error=load_error_message(course_id, error)
        )
