"""Test stand-in for openedx.core.djangoapps.content.course_overviews.apps; mirrors FACTS.md."""

from django.apps import AppConfig


class CourseOverviewsConfig(AppConfig):
    """App config of the course_overviews stand-in."""

    name = "openedx.core.djangoapps.content.course_overviews"
    label = "course_overviews"
    verbose_name = "Course Overviews"
    default_auto_field = "django.db.models.AutoField"
