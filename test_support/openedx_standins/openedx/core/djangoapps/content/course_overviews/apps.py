"""
Test stand-in for ``openedx.core.djangoapps.content.course_overviews.apps``.

Mirrors the platform's app config (its ``ready`` connects the modulestore receivers).
"""

from django.apps import AppConfig


class CourseOverviewsConfig(AppConfig):
    """App config of the course_overviews stand-in."""

    name = "openedx.core.djangoapps.content.course_overviews"
    label = "course_overviews"
    verbose_name = "Course Overviews"
    default_auto_field = "django.db.models.AutoField"

    def ready(self):
        from . import signals  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
