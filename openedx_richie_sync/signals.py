"""
Signal receivers, connected by the plugin framework (see ``apps.py``).

Receivers never raise into the platform and never talk to Richie. Inside the caller's
transaction they record that a delivery is due (``CourseRunSyncState.objects.request``), so the
intent is saved exactly when the change is; once it commits they queue the Celery tasks. If
the broker is down the rows stay pending and the sweep queues them later: nothing is lost.
"""

import logging
import threading
import time
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone

from .configuration import get_config
from .models import CourseRunSyncState
from .platform_api import course_run_key
from .routing import Router, clear_route_cache

log = logging.getLogger(__name__)

# Enqueueing happens in Studio's request: ask the broker once, briefly, never the client's
# default reconnection loop (several seconds per call when the broker is down: docs/architecture.md).
BROKER_FAILFAST = {"connect_timeout": 2, "transport_options": {"max_retries": 0}}
# After a failure, no message is sent for this long: a broker outage costs one refused
# connection per process and window, not one per publish.
BROKER_PAUSE_SECONDS = 5.0
_broker = threading.local()  # kombu connections are not thread-safe: one kept-alive (url, connection) per thread
_broker_down_until = [0.0]


def reset_broker_connection():
    """Forget this thread's connection and any pause (tests; a process that changed its broker)."""
    kept = getattr(_broker, "kept", None)
    _broker.kept = None
    _broker_down_until[0] = 0.0
    if kept is not None:
        _release_quietly(kept[1])


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
            enqueue(course_id, CourseRunSyncState.objects.request(course_id, key.org, [name], due))
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
    transaction.on_commit(partial(enqueue, str(key), generations))


def enqueue(course_id, generations, force=False):
    """
    Queue one delivery task per ``{instance: generation}``; return the instances that could not be queued.

    Each task waits until its row is due (``generations.due_at``, from ``request``; now when
    absent). ``force`` sends even a payload Richie already accepted (the admin's "force resync").

    The rows are pending already: a message that cannot be sent is only late, since the sweep
    queues it (see ``_send`` for what a broker outage costs the caller).
    """
    from .tasks import sync_course_run  # pylint: disable=import-outside-toplevel

    config = get_config()
    options = {"retry": False}
    if config.celery_queue:
        options["queue"] = config.celery_queue
    now = timezone.now()
    due_at = getattr(generations, "due_at", {})
    failed = []
    for name, generation in generations.items():
        countdown = max((due_at[name] - now).total_seconds(), 0) if due_at.get(name) else 0
        args = (course_id, name, generation, True) if force else (course_id, name, generation)
        error = _send(sync_course_run, args, countdown, options)
        if error:
            failed.append(name)
            log.error(
                "Could not queue the Richie sync of course %s to instance %r: the Celery broker is "
                "unreachable (%s). The change is saved and the delivery is recorded as pending: "
                "the sweep will queue it, or run `./manage.py cms sync_courses_to_richie --pending`.",
                course_id, name, error,
            )
    return failed


def _send(task, args, countdown, options):
    """
    Publish one task message on this thread's kept-alive connection; None, or why it could not be sent.

    A connection found dead (the broker restarted) is replaced once at once; when that fails
    too, this process sends nothing for ``BROKER_PAUSE_SECONDS``: an outage costs one refused
    connection per window, not one per publish.
    """
    if time.monotonic() < _broker_down_until[0]:
        return f"the broker was unreachable less than {BROKER_PAUSE_SECONDS:g} s ago"
    url = task.app.conf.broker_url
    for attempt in (1, 2):
        kept = getattr(_broker, "kept", None)
        if kept is None or kept[0] != url:
            _broker.kept = kept = (url, task.app.connection_for_write(**BROKER_FAILFAST))
        try:
            task.apply_async(args=args, connection=kept[1], countdown=countdown, **options)
            return None
        except Exception as error:  # pylint: disable=broad-except
            _broker.kept = None
            _release_quietly(kept[1])
            if attempt == 2:
                _broker_down_until[0] = time.monotonic() + BROKER_PAUSE_SECONDS
                return f"{type(error).__name__}: {error}"
    return None


def _release_quietly(connection):
    try:
        connection.release()
    except Exception:  # pylint: disable=broad-except
        log.debug("Releasing a broken broker connection failed.", exc_info=True)
