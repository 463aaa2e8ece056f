"""
Celery tasks: deliveries to Richie, and the sweep that makes sure none is lost.

Thin wrappers: the work is done by plain functions (``sync``), which the command calls too.
``sync_course_run`` is the publish path: one task per (course, instance) and request, carrying
the row's generation (see ``models``); it retries what ``sync.deliver`` says to retry, with the
delay it gives (exponential backoff with full jitter). ``sync_course_runs`` is
``sync_courses_to_richie --async``. ``sweep_richie_sync`` re-queues what a lost task, a dead
worker or a broker outage left pending, and retries what failed while Richie was down.
Arguments are course keys, instance names and numbers: JSON, no secret. The task names are
part of the messages in flight: they never change.
"""

import logging
from functools import partial

from celery import shared_task
from django.utils import timezone
from edx_django_utils.monitoring import set_code_owner_attribute, set_custom_attribute

from . import dispatch
from .configuration import get_config
from .models import CourseRunSyncState
from .sync import request_and_deliver, resync_batch
from .toggles import deliveries_paused

log = logging.getLogger(__name__)

# The sweep reports deliveries still pending this many PENDING_GRACE periods after they were due.
STUCK_AFTER_GRACES = 3
STUCK_AFTER_MIN_SECONDS = 900


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
@set_code_owner_attribute
def sync_course_run(self, course_id, instance_name, generation=None, force=False):
    """
    Deliver ``course_id`` to ``instance_name`` for request ``generation``.

    Without a generation (a direct call), a request is recorded first.
    """
    outcome = request_and_deliver(course_id, instance_name, generation, force=force)
    set_custom_attribute("richie_sync.course_id", course_id)
    set_custom_attribute("richie_sync.instance", instance_name)
    set_custom_attribute("richie_sync.outcome", str(outcome.result))
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.result


@shared_task(acks_late=True, ignore_result=True)
@set_code_owner_attribute
def sync_course_runs(course_ids, instance_name, force=False, only_failed=False):
    """Resync a batch of courses to one instance (``sync_courses_to_richie --async``)."""
    return resync_batch(course_ids, instance_name, force=force, only_failed=only_failed)


@shared_task(acks_late=True, ignore_result=True)
@set_code_owner_attribute
def sweep_richie_sync():
    """
    Re-queue overdue pending deliveries and retry transient failures; run it every few minutes with beat.

    Nothing else is needed for a lost task, a killed worker or an hours-long Richie outage to
    end with Richie up to date.
    """
    if deliveries_paused():
        log.info("Richie sync sweep skipped: deliveries are paused (waffle switch richie_sync.pause_deliveries).")
        return {"paused": True}
    config = get_config()
    return sweep(config.pending_grace, config.retry_failed_after)


def sweep(pending_grace, retry_failed_after):
    """Queue what is overdue; return the counts. Also ``sync_courses_to_richie --pending --async``."""
    def request_again(rows):
        done = 0
        for course_id, org, instance_name in list(rows.values_list("course_id", "org", "instance")):
            generations = CourseRunSyncState.objects.request(course_id, org, [instance_name], timezone.now())
            done += len(generations) - len(enqueue(course_id, generations))
        return done

    retried = (
        request_again(CourseRunSyncState.objects.retry_due(retry_failed_after)) if retry_failed_after is not None else 0
    )
    refreshed = request_again(CourseRunSyncState.objects.refresh_due())
    queued = 0
    rows = CourseRunSyncState.objects.due(pending_grace, parked_horizon(get_config())).values_list(
        "course_id", "instance", "generation"
    )
    for course_id, instance_name, generation in list(rows):
        queued += not enqueue(course_id, {instance_name: generation})
    _warn_if_nothing_consumes(pending_grace)
    log.info(
        "Richie sync sweep: %d failed deliveries retried, %d expired prices refreshed, %d pending deliveries queued.",
        retried, refreshed, queued,
    )
    return {"queued": queued, "retried": retried, "refreshed": refreshed}


def _delivery_messages(course_id, generations, force):
    """``(instance, task kwargs, eta, options)`` for each ``{instance: generation}`` of a request."""
    config = get_config()
    options = {"queue": config.celery_queue} if config.celery_queue else {}
    now = timezone.now()
    due_at = getattr(generations, "due_at", {})
    for name, generation in generations.items():
        kwargs = {"course_id": course_id, "instance_name": name, "generation": generation}
        if force:
            kwargs["force"] = True
        due = due_at.get(name)
        yield name, kwargs, (due if due is not None and due > now else None), options


def _log_unqueued(course_id, name, reason):
    log.error(
        "Could not queue the Richie sync of course %s to instance(s) %s: the Celery broker is "
        "unreachable (%s). The change is saved and the delivery is recorded as pending: "
        "the sweep will queue it, or run `./manage.py cms sync_courses_to_richie --pending`.",
        course_id, name, reason,
    )


def enqueue(course_id, generations, force=False):
    """
    Queue one delivery per ``{instance: generation}`` now; return the instances that could not be queued.

    Each task waits until its row is due (``generations.due_at``, from ``request``). ``force``
    sends even a payload Richie already accepted (the admin's "force resync"). For callers that
    report the outcome: the admin, the sweep.
    """
    failed = []
    for name, kwargs, eta, options in _delivery_messages(course_id, generations, force):
        error = dispatch.send_now(sync_course_run, kwargs, eta, options)
        if error:
            failed.append(name)
            _log_unqueued(course_id, name, error)
    return failed


def enqueue_in_background(course_id, generations):
    """
    Queue the deliveries from this process's sender thread: the receivers' way, which must not wait for the broker.

    Deliveries due at the same time travel as one ``fan_out_deliveries`` message, which a worker
    turns into one task per instance: a publish costs Studio's process one message, however many
    instances serve the course. The rows are pending already: a message the thread cannot send
    is only late, since the sweep queues it.
    """
    by_eta = {}
    for name, kwargs, eta, options in _delivery_messages(course_id, generations, False):
        by_eta.setdefault(eta, (options, {}))[1][name] = kwargs
    for eta, (options, deliveries) in by_eta.items():
        names = list(deliveries)
        if len(names) == 1:
            task, kwargs = sync_course_run, deliveries[names[0]]
        else:
            task = fan_out_deliveries
            kwargs = {"course_id": course_id, "generations": {name: deliveries[name]["generation"] for name in names}}
        failed = partial(_log_unqueued, course_id, ", ".join(names))
        dispatch.send_later(task, kwargs, eta, options, on_failure=failed)


@shared_task(acks_late=True, ignore_result=True)
@set_code_owner_attribute
def fan_out_deliveries(course_id, generations):
    """One publish's deliveries to several instances, due now: one ``sync_course_run`` task per instance."""
    enqueue(course_id, generations)


def parked_horizon(config):
    """
    How far ahead a pending row may legitimately be due.

    The longest delay this version computes (a retry is capped by RETRY_BACKOFF_MAX, an enrollment
    update waits ENROLLMENT_COUNT_INTERVAL), plus 15 minutes. A row due later was parked by an
    earlier version: the sweep rescues it.
    """
    return max(config.retry_backoff_max, config.enrollment_count_interval, config.coalesce_seconds) + 900


def _warn_if_nothing_consumes(pending_grace):
    """
    Say so when deliveries stay pending long after the sweep queued them: no worker takes them.

    A row queued by a sweep is delivered within seconds by a live worker; one still pending
    ``STUCK_AFTER_GRACES`` graces (at least 15 minutes) after it was due was queued several
    times for nothing. Re-queuing it silently for ever would hide the cause.
    """
    stuck_after = max(STUCK_AFTER_GRACES * pending_grace, STUCK_AFTER_MIN_SECONDS)
    stuck = CourseRunSyncState.objects.due(stuck_after).count()
    if stuck:
        queue = get_config().celery_queue or sync_course_run.app.conf.task_default_queue
        log.error(
            "Richie sync: %d deliveries are still pending more than %d minutes after they were due, although the "
            "sweep queues them to Celery queue %r: does a worker consume that queue? Stock workers consume "
            "edx.cms.core.default/high/low and edx.lms.core.default/high/high_mem. Fix RICHIE_SYNC['CELERY_QUEUE'] "
            "or the workers; `./manage.py cms sync_courses_to_richie --pending` delivers them from the command.",
            stuck, stuck_after // 60, queue,
        )
