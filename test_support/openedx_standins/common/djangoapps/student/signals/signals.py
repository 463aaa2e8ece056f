"""
Test stand-in for ``common.djangoapps.student.signals.signals``.

Mirrors the platform's module of that name (only the signals ``CourseEnrollment`` sends).
"""

from django.dispatch import Signal

# Sent with kwargs: event, user, course_id, mode, cost, currency.
ENROLL_STATUS_CHANGE = Signal()
# Sent with kwargs: course_enrollment, skip_refund.
UNENROLL_DONE = Signal()
# Sent with kwargs: user, course_key, mode, countdown.
ENROLLMENT_TRACK_UPDATED = Signal()
