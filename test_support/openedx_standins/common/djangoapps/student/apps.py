"""Test stand-in for common.djangoapps.student.apps; mirrors the platform's module of that name."""

from django.apps import AppConfig


class StudentConfig(AppConfig):
    """App config of the student stand-in."""

    name = "common.djangoapps.student"
    label = "student"
    default_auto_field = "django.db.models.AutoField"
