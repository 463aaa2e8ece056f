"""Test stand-in for common.djangoapps.student.models (a package); mirrors FACTS.md."""

from .course_enrollment import CourseEnrollment, EnrollStatusChange

__all__ = ["CourseEnrollment", "EnrollStatusChange"]
