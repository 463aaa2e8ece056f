"""Test stand-in for openedx.core.djangoapps.content.course_overviews.models; mirrors FACTS.md.

Only the fields listed in FACTS.md are kept. Unlike the platform, nothing is ever
rebuilt from the modulestore: tests create the rows they need.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from opaque_keys.edx.django.models import CourseKeyField


class CourseOverview(models.Model):
    """Cached summary of a course run (one row per course key)."""

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
    def get_from_id(cls, course_id):
        """Return the overview of ``course_id``.

        Raises ``CourseOverview.DoesNotExist`` when there is no row (the platform
        would first try to build it from the modulestore).
        """
        return cls.objects.get(id=course_id)

    @classmethod
    def get_all_courses(cls, orgs=None, filter_=None, active_only=False, course_keys=None):
        """Return a queryset of overviews, optionally filtered.

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
