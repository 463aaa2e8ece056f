"""Test stand-in for common.djangoapps.student.models.course_enrollment; mirrors FACTS.md.

``enroll`` and ``unenroll`` only write the row and send ENROLL_STATUS_CHANGE
(no access checks, filters, events, history or caches).
"""

import logging

from django.conf import settings
from django.db import models

from common.djangoapps.course_modes.models import CourseMode
from common.djangoapps.student.signals import ENROLL_STATUS_CHANGE
from openedx.core.djangoapps.content.course_overviews.models import CourseOverview

log = logging.getLogger(__name__)


class EnrollStatusChange:
    """Possible ``event`` values of the ENROLL_STATUS_CHANGE signal."""

    enroll = "enroll"
    unenroll = "unenroll"
    upgrade_start = "upgrade_start"
    upgrade_complete = "upgrade_complete"
    paid_start = "paid_start"
    paid_complete = "paid_complete"


class CourseEnrollment(models.Model):
    """A user's enrollment in a course run; counts as enrolled while ``is_active``."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    # The column is ``course_id`` and holds the course key; no database constraint,
    # so an enrollment may exist without an overview row.
    course = models.ForeignKey(CourseOverview, db_constraint=False, on_delete=models.DO_NOTHING)
    created = models.DateTimeField(auto_now_add=True, null=True, db_index=True)
    is_active = models.BooleanField(default=True)
    mode = models.CharField(default=CourseMode.get_default_mode_slug, max_length=100)

    class Meta:
        app_label = "student"
        unique_together = (("user", "course"),)
        ordering = ("user", "course")

    def __str__(self):
        return (
            f"[CourseEnrollment] {self.user}: {self.course_id} ({self.created}); "
            f"active: ({self.is_active})"
        )

    def send_signal(self, event, cost=None, currency=None):
        """Send ENROLL_STATUS_CHANGE for this enrollment."""
        ENROLL_STATUS_CHANGE.send(
            sender=None,
            event=event,
            user=self.user,
            mode=self.mode,
            course_id=self.course_id,
            cost=cost,
            currency=currency,
        )

    @classmethod
    def enroll(cls, user, course_key, mode=None):
        """Enroll ``user`` in ``course_key`` (create or reactivate) and return the row.

        Sends ENROLL_STATUS_CHANGE with ``event=EnrollStatusChange.enroll``, even
        when the user was already enrolled (as the platform does).
        """
        if mode is None:
            mode = CourseMode.DEFAULT_MODE_SLUG
        enrollment, _ = cls.objects.get_or_create(
            user=user,
            course_id=course_key,
            defaults={"mode": CourseMode.DEFAULT_MODE_SLUG, "is_active": False},
        )
        if not enrollment.is_active or enrollment.mode != mode:
            enrollment.is_active = True
            enrollment.mode = mode
            enrollment.save()
        enrollment.send_signal(EnrollStatusChange.enroll)
        return enrollment

    @classmethod
    def unenroll(cls, user, course_id):
        """Deactivate the enrollment of ``user`` in ``course_id``.

        Sends ENROLL_STATUS_CHANGE with ``event=EnrollStatusChange.unenroll`` only
        if the enrollment was active. Without an enrollment, logs an error.
        """
        try:
            enrollment = cls.objects.get(user=user, course_id=course_id)
        except cls.DoesNotExist:
            log.error(
                "Tried to unenroll student %s from %s but they were not enrolled", user, course_id
            )
            return
        if enrollment.is_active:
            enrollment.is_active = False
            enrollment.save()
            enrollment.send_signal(EnrollStatusChange.unenroll)
