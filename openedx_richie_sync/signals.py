"""
Signal receivers, connected by the plugin framework (see ``apps.py``).

Receivers never raise into the platform and never talk to Richie. Inside the caller's
transaction they record that a delivery is due (``CourseRunSyncState.objects.request``), so the
intent is saved exactly when the change is; once it commits they hand the Celery messages to
the process's sender thread (``dispatch``), so Studio never waits for the broker. If the broker is
down the rows stay pending and the sweep queues them later: nothing is lost.
"""

import logging
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone

from .configuration import get_config
from .models import CourseRunSyncState
from .platform_api import course_run_key
from .routing import Router, clear_route_cache
from .tasks import enqueue_in_background

log = logging.getLogger(__name__)


def course_published(sender, course_key, **kwargs):  # pylint: disable=unused-argument
    """Studio published ``course_key``: deliver it to every instance that serves its org, coalescing bursts."""
    _request_and_enqueue(course_key)


def course_deleted(sender, course_key, **kwargs):  # pylint: disable=unused-argument
    """A course was deleted: its delivery finds it gone and hides the run in Richie."""
    _request_and_enqueue(course_key)


def course_mode_changed(sender, instance, **kwargs):  # pylint: disable=unused-argument
    """
    A course mode was saved or deleted (LMS admin, ecommerce API): prices may have changed.

    The platform sends no course_published then, so without this Richie would keep the old
    price. Only the instances that send prices for the course's organisation are asked.
    """
    _request_and_enqueue(getattr(instance, "course_id", None), prices_only=True)


def site_configuration_changed(sender, **kwargs):  # pylint: disable=unused-argument
    """A site configuration was saved or deleted: routes read from it are read again."""
    clear_route_cache()


def enrollment_changed(sender, enrollment=None, **kwargs):  # pylint: disable=unused-argument
    """
    An enrollment was created, activated, deactivated or changed mode: refresh ``enrollment_count``.

    openedx-events' COURSE_ENROLLMENT_CHANGED is the one signal the platform sends on every change
    of an enrollment's activity (``update_enrollment``, which enroll, unenroll, activate and
    deactivate all go through, in the LMS and the CMS); ENROLL_STATUS_CHANGE misses re-activations.
    At most one update per ``ENROLLMENT_COUNT_INTERVAL``: only the first change after a delivery
    schedules one; the changes that follow find the row pending and add nothing.

    The request is recorded once the enrollment is committed, not inside its transaction: a
    delivery that is pending and not yet under way will then read this change, so skipping is
    safe; one under way may have read the count before, so it is asked again.
    """
    key = course_run_key(getattr(getattr(enrollment, "course", None), "course_key", None))
    if key is not None:
        transaction.on_commit(partial(_request_count_update, key))


def _request_count_update(key):
    """
    Request an enrollment-count update where no pending delivery will carry it already.

    One read decides: a row pending with no delivery under way already carries this change
    (the common case on a busy course: nothing else is done); the others are requested.
    """
    try:
        config, names = _routed(key)
        if not names:
            return
        now = timezone.now()
        course_id = str(key)
        for name, last_success in CourseRunSyncState.objects.needing_update(course_id, names, now):
            due = now + timedelta(seconds=config.coalesce_seconds)
            if last_success:
                due = max(due, last_success + timedelta(seconds=config.enrollment_count_interval))
            enqueue_in_background(course_id, CourseRunSyncState.objects.request(course_id, key.org, [name], due))
    except Exception:  # pylint: disable=broad-except
        log.exception("Could not record the Richie enrollment-count update of course %s.", key)


def _routed(key, prices_only=False):
    """The configuration, and the names of the instances serving the course's organisation."""
    config = get_config()
    instances = Router(config).for_org(key.org).instances
    return config, [instance.name for instance in instances if instance.send_prices or not prices_only]


def _request_and_enqueue(course_key, prices_only=False):
    """Record the deliveries of a changed course in the caller's transaction; queue them once it commits."""
    key = course_run_key(course_key)
    if key is None:
        log.debug("Richie sync ignores %s: not a course run (CCX or library).", course_key)
        return
    try:
        config, names = _routed(key, prices_only)
        if not names:
            return
        now = timezone.now()
        generations = CourseRunSyncState.objects.request(
            str(key), key.org, names, now, trailing_due_at=now + timedelta(seconds=config.coalesce_seconds)
        )
    except Exception:  # pylint: disable=broad-except
        log.exception(
            "Could not record the Richie sync of course %s; the change itself is saved. "
            "Run `./manage.py cms sync_courses_to_richie %s` to deliver it.", key, key,
        )
        return
    transaction.on_commit(partial(enqueue_in_background, str(key), generations))
