"""
Test stand-in for ``openedx.core.djangoapps.content.course_overviews.models``.

Mirrors the platform's module of that name.

Mirrored: the fields the plugin reads, ``version`` and the class constant ``VERSION``;
``get_from_id`` (request-cached like the platform's: the same object is returned until the
request cache is cleared) returns the row, rebuilding it from the modulestore when it is missing
or its ``version`` is below ``VERSION``; ``load_from_module_store`` raises
``CourseOverview.DoesNotExist`` for a course the modulestore does not have and ``OSError`` for
one that fails to load (``ErrorBlock``); ``get_all_courses`` returns the rows as stored (no
rebuild). Rows created directly (``CourseOverview.objects.create``/``update_or_create``) get
``version = VERSION`` by default, so they count as current. Left out: the other fields, tabs,
image sets, history, CCX handling and the catalog integration.
"""

import logging

from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone
from opaque_keys.edx.django.models import CourseKeyField
from openedx.core.lib.cache_utils import request_cached
from xmodule.course_block import CourseBlock
from xmodule.error_block import ErrorBlock
from xmodule.modulestore.django import modulestore

log = logging.getLogger(__name__)

# Fields copied from the course block, with the value a course block has when it does not set them.
_COPIED_FIELDS = {
    "display_name": None,
    "start": None,
    "end": None,
    "enrollment_start": None,
    "enrollment_end": None,
    "language": None,
    "catalog_visibility": "both",
    "invitation_only": False,
    "self_paced": False,
    "short_description": None,
    "effort": None,
    "course_image_url": "",
}


class CourseOverview(models.Model):
    """Cached summary of a course run (one row per course key)."""

    # Bumped by the platform whenever the model changes: older rows are rebuilt by get_from_id.
    VERSION = 19

    version = models.IntegerField(default=VERSION)

    id = CourseKeyField(db_index=True, primary_key=True, max_length=255)
    org = models.TextField(max_length=255, default="outdated_entry")
    display_name = models.TextField(null=True)

    start = models.DateTimeField(null=True)
    end = models.DateTimeField(null=True)
    enrollment_start = models.DateTimeField(null=True)
    enrollment_end = models.DateTimeField(null=True)

    language = models.TextField(null=True)
    catalog_visibility = models.TextField(null=True)
    invitation_only = models.BooleanField(default=False)
    self_paced = models.BooleanField(default=False)
    short_description = models.TextField(null=True)
    effort = models.TextField(null=True)
    course_image_url = models.TextField(default="")

    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "course_overviews"

    def __str__(self):
        return str(self.id)

    @classmethod
    def _create_or_update(cls, course):
        """An overview (not saved) holding the course block's values."""
        overview = cls.objects.filter(id=course.id).first() or cls()
        overview.version = cls.VERSION
        overview.id = course.id
        overview.org = course.location.org
        for name, default in _COPIED_FIELDS.items():
            setattr(overview, name, getattr(course, name, default))
        return overview

    @classmethod
    def load_from_module_store(cls, course_id):
        """
        Build the overview from the modulestore, save and return it.

        Raises ``CourseOverview.DoesNotExist`` when the modulestore has no such course and
        ``OSError`` when the course fails to load.
        """
        store = modulestore()
        with store.bulk_operations(course_id):
            course = store.get_course(course_id)
            if isinstance(course, CourseBlock):
                overview = cls._create_or_update(course)
                try:
                    with transaction.atomic():
                        overview.save()
                except IntegrityError:
                    log.info(
                        "Multiple CourseOverviews for course %s requested simultaneously; will only save one.",
                        course_id,
                    )
                return overview
            if course is not None:
                # pylint: disable-next=raising-format-tuple  # the platform raises these arguments unformatted
                raise OSError(
                    "Error while loading CourseOverview for course {} from the module store: {}",
                    str(course_id),
                    course.error_msg if isinstance(course, ErrorBlock) else str(course),
                )
            log.info("Could not create CourseOverview for non-existent course: %s", course_id)
            raise cls.DoesNotExist()

    @classmethod
    @request_cached("course_overview")
    def get_from_id(cls, course_id):
        """
        The overview of ``course_id``, rebuilt from the modulestore when missing or outdated.

        Request-cached. Raises ``CourseOverview.DoesNotExist`` (no such course) or ``OSError``
        (the course fails to load).
        """
        try:
            overview = cls.objects.get(id=course_id)
            if overview.version < cls.VERSION:
                overview = cls.load_from_module_store(course_id)
        except cls.DoesNotExist:
            overview = None
        return overview or cls.load_from_module_store(course_id)

    @classmethod
    def get_all_courses(cls, orgs=None, filter_=None, active_only=False, course_keys=None):
        """
        Return a queryset of overviews as stored, optionally filtered.

        ``orgs``: case-insensitive match on any of them; ``filter_``: keyword
        arguments for ``.filter()``; ``active_only``: courses not ended yet (or
        without end); ``course_keys``: only these ids.
        """
        queryset = cls.objects.all()
        if course_keys:
            queryset = queryset.filter(id__in=course_keys)
        if orgs:
            org_match = Q()
            for org in orgs:
                org_match |= Q(org__iexact=org)
            queryset = queryset.filter(org_match)
        if filter_:
            queryset = queryset.filter(**filter_)
        if active_only:
            queryset = queryset.filter(Q(end__isnull=True) | Q(end__gte=timezone.now()))
        return queryset
