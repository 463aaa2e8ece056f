"""Test stand-in for common.djangoapps.course_modes.apps; mirrors the platform's module of that name."""

from django.apps import AppConfig


class CourseModesConfig(AppConfig):
    """App config of the course_modes stand-in."""

    name = "common.djangoapps.course_modes"
    label = "course_modes"
    verbose_name = "Course Modes"
    default_auto_field = "django.db.models.AutoField"
