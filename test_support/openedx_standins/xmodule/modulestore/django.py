"""Test stand-in for xmodule.modulestore.django; mirrors FACTS.md.

Only the modulestore signals are provided. The platform sends them with
``send_robust(sender=<modulestore class>, course_key=<CourseLocator>)``; tests
send them the same way (``sender=None`` is fine).
"""

from django.dispatch import Signal


class SignalHandler:
    """The modulestore signals, as class attributes (like the platform's)."""

    course_published = Signal()
    course_deleted = Signal()


# Module-level aliases, as the platform exposes them.
COURSE_PUBLISHED = SignalHandler.course_published
COURSE_DELETED = SignalHandler.course_deleted
