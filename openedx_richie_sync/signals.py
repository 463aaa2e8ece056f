"""
Signal receivers, connected by the plugin framework (see ``apps.py``).

Receivers never raise into the platform and never talk to Richie. Inside the caller's
transaction they record that a delivery is due (``CourseRunSyncState.objects.request``), so the
intent is saved exactly when the change is; once it commits they queue the Celery tasks. If
the broker is down the rows stay pending and the sweep queues them later: nothing is lost.
"""

import logging
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone

from .configuration import get_config
from .models import CourseRunSyncState
from .platform_api import course_run_key
from .routing import Router

log = logging.getLogger(__name__)

# Enqueueing happens in Studio's request: ask the broker once, briefly, never the client's
# default reconnection loop (several seconds per call when the broker is down: docs/architecture.md).
BROKER_FAILFAST = {"connect_timeout": 2, "transport_options": {"max_retries": 0}}


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
    try:
        config, names = _routed(key)
        now = timezone.now()
        last_success = dict(
            CourseRunSyncState.objects.filter(course_id=str(key), instance__in=names).values_list("instance", "last_success_at")
        )
        for name in names:
            due = now + timedelta(seconds=config.coalesce_seconds)
            if last_success.get(name):
                due = max(due, last_success[name] + timedelta(seconds=config.enrollment_count_interval))
            generations = CourseRunSyncState.objects.request(str(key), key.org, [name], due, only_if_idle=True)
            if generations:
                countdown = (due - now).total_seconds()
                transaction.on_commit(partial(enqueue, str(key), generations, countdown))
    except Exception:  # pylint: disable=broad-except
        log.exception("Could not record the Richie enrollment-count update of course %s.", key)


def _routed(key, prices_only=False):
    """The configuration, and the names of the instances serving the course's organisation."""
    config = get_config()
    instances = Router(config).for_org(key.org).instances
    return config, [instance.name for instance in instances if instance.send_prices or not prices_only]


def _request_and_enqueue(course_key, prices_only=False):
    key = course_run_key(course_key)
    if key is None:
        log.debug("Richie sync ignores %s: not a course run (CCX or library).", course_key)
        return
    try:
        config, names = _routed(key, prices_only)
        if not names:
            return
        due = timezone.now() + timedelta(seconds=config.coalesce_seconds)
        generations = CourseRunSyncState.objects.request(str(key), key.org, names, due)
    except Exception:  # pylint: disable=broad-except
        log.exception(
            "Could not record the Richie sync of course %s; the change itself is saved. "
            "Run `./manage.py cms sync_courses_to_richie %s` to deliver it.", key, key,
        )
        return
    transaction.on_commit(partial(enqueue, str(key), generations, config.coalesce_seconds))


def enqueue(course_id, generations, countdown=0, force=False):
    """
    Queue one delivery task per ``{instance: generation}``; return the instances that could not be queued.

    ``force`` sends even a payload Richie already accepted (the admin's "force resync").

    One short-lived broker connection without reconnection retries: a broker outage costs the
    request one refused connection. The rows stay pending, so the sweep will queue them.
    """
    from .tasks import sync_course_run  # pylint: disable=import-outside-toplevel

    config = get_config()
    options = {"retry": False, "countdown": max(countdown, 0)}
    if config.celery_queue:
        options["queue"] = config.celery_queue
    failed = []
    with sync_course_run.app.connection_for_write(**BROKER_FAILFAST) as connection:
        for name, generation in generations.items():
            try:
                args = (course_id, name, generation, True) if force else (course_id, name, generation)
                sync_course_run.apply_async(args=args, connection=connection, **options)
            except Exception as error:  # pylint: disable=broad-except
                failed.append(name)
                log.error(
                    "Could not queue the Richie sync of course %s to instance %r: the Celery broker is "
                    "unreachable (%s: %s). The change is saved and the delivery is recorded as pending: "
                    "the sweep will queue it, or run `./manage.py cms sync_courses_to_richie --pending`.",
                    course_id, name, type(error).__name__, error,
                )
    return failed
