"""
Test stand-in for ``common.djangoapps.student.models.course_enrollment``.

Mirrors the platform's module of that name.

The signals and openedx-events are sent exactly where the platform sends them:

- ``enroll``: creates the row inactive if missing, then ``update_enrollment(is_active=True,
  mode=mode)``, then always ``ENROLL_STATUS_CHANGE`` (``enroll``), even for an enrollment that
  was already active, and ``COURSE_ENROLLMENT_CREATED``;
- ``update_enrollment(mode=None, is_active=None, ...)``: when the activation or the mode changes,
  saves and sends ``COURSE_ENROLLMENT_CHANGED``; on deactivation also ``UNENROLL_DONE``,
  ``ENROLL_STATUS_CHANGE`` (``unenroll``) and ``COURSE_UNENROLLMENT_COMPLETED``; on
  re-activation **no** ``ENROLL_STATUS_CHANGE`` (the platform only emits a tracking event);
  on a mode change ``ENROLLMENT_TRACK_UPDATED``;
- ``unenroll`` = ``update_enrollment(is_active=False)`` (logs an error without a row);
  ``activate``/``deactivate``/``change_mode`` call ``update_enrollment``;
- ``enroll_by_email``/``unenroll_by_email``: look the user up by email, then ``enroll``/``unenroll``
  (the platform's bulk enrollment, e.g. the instructor dashboard's, goes through these: there is
  no separate bulk path with other signals).

Left out: openedx-filters, access checks (``check_access``), tracking/segment events, emails,
history, ``CourseEnrollmentAllowed``, the enrollment request caches. The user's full name stands
in for ``user.profile.name`` (no ``UserProfile`` model here).
"""

import logging

from common.djangoapps.course_modes.models import CourseMode
from common.djangoapps.student.signals import ENROLL_STATUS_CHANGE, ENROLLMENT_TRACK_UPDATED, UNENROLL_DONE
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from openedx.core.djangoapps.content.course_overviews.models import CourseOverview
from openedx_events.learning.data import CourseData, CourseEnrollmentData, UserData, UserPersonalData
from openedx_events.learning.signals import (
    COURSE_ENROLLMENT_CHANGED,
    COURSE_ENROLLMENT_CREATED,
    COURSE_UNENROLLMENT_COMPLETED,
)

log = logging.getLogger(__name__)
SCORE_RECALCULATION_DELAY_ON_ENROLLMENT_UPDATE = 30


class EnrollStatusChange:
    """Possible ``event`` values of the ENROLL_STATUS_CHANGE signal."""

    enroll = "enroll"
    unenroll = "unenroll"
    upgrade_start = "upgrade_start"
    upgrade_complete = "upgrade_complete"
    paid_start = "paid_start"
    paid_complete = "paid_complete"


def _user_data(user):
    return UserData(
        pii=UserPersonalData(username=user.username, email=user.email, name=user.get_full_name()),
        id=user.id,
        is_active=user.is_active,
    )


def _default_course_mode(course_id):
    """The mode ``enroll`` uses when given none (the platform's enrollments API helper)."""
    slugs = [mode.slug for mode in CourseMode.modes_for_course(course_id=course_id)]
    if CourseMode.DEFAULT_MODE_SLUG in slugs:
        return CourseMode.DEFAULT_MODE_SLUG
    if "audit" in slugs:
        return "audit"
    if "honor" in slugs:
        return "honor"
    return CourseMode.DEFAULT_MODE_SLUG


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

    @classmethod
    def get_or_create_enrollment(cls, user, course_key):
        """The user's enrollment row, created inactive in the default mode if missing."""
        if user.id is None:
            user.save()
        enrollment, _ = cls.objects.get_or_create(
            user=user, course_id=course_key, defaults={"mode": CourseMode.DEFAULT_MODE_SLUG, "is_active": False}
        )
        return enrollment

    @classmethod
    def is_enrolled(cls, user, course_key):
        return cls.objects.filter(user=user, course_id=course_key, is_active=True).exists()

    def _course_data(self):
        try:
            return CourseData(course_key=self.course_id, display_name=self.course.display_name)
        except CourseOverview.DoesNotExist:
            return CourseData(course_key=self.course_id)

    def _enrollment_data(self):
        return CourseEnrollmentData(
            user=_user_data(self.user),
            course=self._course_data(),
            mode=self.mode,
            is_active=self.is_active,
            creation_date=self.created,
        )

    def update_enrollment(
        self, mode=None, is_active=None, skip_refund=False,
        enterprise_uuid=None,  # pylint: disable=unused-argument  # the platform's parameter; no enterprises here
    ):
        """Change the mode and/or activation, save, and send what the platform sends (see the module)."""
        activation_changed = False
        if self.is_active != is_active and is_active is not None:
            self.is_active = is_active
            activation_changed = True
        mode_changed = False
        if self.mode != mode and mode is not None:
            self.mode = mode
            mode_changed = True

        if activation_changed or mode_changed:
            self.save()
            COURSE_ENROLLMENT_CHANGED.send_event(enrollment=self._enrollment_data())

        if activation_changed and not self.is_active:
            UNENROLL_DONE.send(sender=None, course_enrollment=self, skip_refund=skip_refund)
            self.send_signal(EnrollStatusChange.unenroll)
            COURSE_UNENROLLMENT_COMPLETED.send_event(enrollment=self._enrollment_data())

        if mode_changed:
            ENROLLMENT_TRACK_UPDATED.send(
                sender=None,
                user=self.user,
                course_key=self.course_id,
                mode=self.mode,
                countdown=SCORE_RECALCULATION_DELAY_ON_ENROLLMENT_UPDATE,
            )

    def send_signal(self, event, cost=None, currency=None):
        """Send ENROLL_STATUS_CHANGE for this enrollment."""
        ENROLL_STATUS_CHANGE.send(
            sender=None, event=event, user=self.user, mode=self.mode, course_id=self.course_id,
            cost=cost, currency=currency,
        )

    @classmethod
    def enroll(  # pylint: disable=too-many-positional-arguments  # the platform's signature
        cls, user, course_key, mode=None,
        # The platform's parameters, unused: the stand-in checks no access, has no upgrades nor enterprises.
        check_access=False, can_upgrade=False, enterprise_uuid=None,  # pylint: disable=unused-argument
    ):
        """Enroll ``user`` in ``course_key`` (create or reactivate) and return the row (see the module)."""
        if mode is None:
            mode = _default_course_mode(str(course_key))
        try:
            course = CourseOverview.get_from_id(course_key)
            course_data = CourseData(course_key=course.id, display_name=course.display_name)
        except CourseOverview.DoesNotExist:
            course_data = CourseData(course_key=course_key)
        if cls.is_enrolled(user, course_key):
            log.warning("User %s attempted to enroll in %s, but they were already enrolled", user.username, course_key)
        enrollment = cls.get_or_create_enrollment(user, course_key)
        enrollment.update_enrollment(is_active=True, mode=mode, enterprise_uuid=enterprise_uuid)
        enrollment.send_signal(EnrollStatusChange.enroll)
        COURSE_ENROLLMENT_CREATED.send_event(
            enrollment=CourseEnrollmentData(
                user=_user_data(user),
                course=course_data,
                mode=enrollment.mode,
                is_active=enrollment.is_active,
                creation_date=enrollment.created,
            )
        )
        return enrollment

    @classmethod
    def enroll_by_email(cls, email, course_id, mode=None, ignore_errors=True):
        """``enroll`` the user with this email; None (logged) when there is none and ``ignore_errors``."""
        user_model = get_user_model()
        try:
            user = user_model.objects.get(email=email)
            return cls.enroll(user, course_id, mode)
        except user_model.DoesNotExist:
            log.error("Tried to enroll email %s into course %s, but user not found", email, course_id)
            if ignore_errors:
                return None
            raise

    @classmethod
    def unenroll(cls, user, course_id, skip_refund=False):
        """Deactivate the enrollment (``update_enrollment(is_active=False)``); logs an error without one."""
        try:
            record = cls.objects.get(user=user, course_id=course_id)
            record.update_enrollment(is_active=False, skip_refund=skip_refund)
        except cls.DoesNotExist:
            log.error("Tried to unenroll student %s from %s but they were not enrolled", user, course_id)

    @classmethod
    def unenroll_by_email(cls, email, course_id):
        """``unenroll`` the user with this email (logged when there is none)."""
        user_model = get_user_model()
        try:
            return cls.unenroll(user_model.objects.get(email=email), course_id)
        except user_model.DoesNotExist:
            log.error("Tried to unenroll email %s from course %s, but user not found", email, course_id)
            return None

    def activate(self):
        """Make this enrollment active (sends no ENROLL_STATUS_CHANGE, as in the platform)."""
        self.update_enrollment(is_active=True)

    def deactivate(self):
        """Make this enrollment inactive."""
        self.update_enrollment(is_active=False)

    def change_mode(self, mode):
        """Change this enrollment's mode."""
        self.update_enrollment(mode=mode)
