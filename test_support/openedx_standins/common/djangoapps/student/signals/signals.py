"""Test stand-in for common.djangoapps.student.signals.signals; mirrors FACTS.md."""

from django.dispatch import Signal

# Sent with kwargs: event, user, course_id, mode, cost, currency.
ENROLL_STATUS_CHANGE = Signal()
