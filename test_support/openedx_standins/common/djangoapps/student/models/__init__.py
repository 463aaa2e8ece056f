"""Test stand-in for common.djangoapps.student.models (a package); mirrors the platform's module of that name."""

from .course_enrollment import CourseEnrollment, EnrollStatusChange

__all__ = ["CourseEnrollment", "EnrollStatusChange"]
