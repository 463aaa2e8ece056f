"""
Celery tasks: deliveries to Richie, and the sweep that makes sure none is lost.

``sync_course_run`` is the publish path: one task per (course, instance) and request, carrying
the row's generation (see ``models``). It stands down when a newer request exists, holds the
row's lease while it reads the course and talks to Richie, and retries transient failures with
exponential backoff and full jitter. ``sync_course_runs`` is ``sync_courses_to_richie --async``.
``sweep_richie_sync`` re-queues what a lost task, a dead worker or a broker outage left pending,
and retries what failed while Richie was down. Arguments are course keys, instance names and
numbers: JSON, no secret.
"""

import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from celery import shared_task
from django.utils import timezone
from edx_django_utils.monitoring import set_code_owner_attribute, set_custom_attribute

from . import dispatch
from .configuration import get_config
from .delivery import PERMANENT, SUCCESS, TRANSIENT, attempt_bound, backoff_delay, client_for
from .models import CourseRunSyncState, SyncStatus
from .payload import CourseRun, PayloadError, hidden_payload
from .platform_api import course_run_key, iter_course_runs, load_course_run
from .resync import ItemResult, Prepared, Resync, prepare
from .routing import Router
from .signing import payload_hash, serialize
from .toggles import deliveries_paused

log = logging.getLogger(__name__)

# The sweep reports deliveries still pending this many PENDING_GRACE periods after they were due.
STUCK_AFTER_GRACES = 3
STUCK_AFTER_MIN_SECONDS = 900


@dataclass(frozen=True)
class Outcome:
    """What one delivery attempt led to; ``retry_in`` is set when it must be tried again."""

    result: str  # sent, unchanged, failed, retrying, superseded, busy, skipped
    retry_in: float | None = None


def lease_seconds(instance):
    """
    How long a delivery holds its row: never less than it can last, so the lease never expires under it.

    One attempt ends within ``delivery.attempt_bound(TIMEOUT)`` (TIMEOUT plus a second) whatever
    Richie does; the rest (2 × TIMEOUT + 9 s, so 3 × TIMEOUT + 10 s in all) leaves time to read
    the course and record the result.
    """
    return attempt_bound(instance.timeout) + 2 * instance.timeout + 9


def deliver(course_id, instance_name, generation, force=False):
    """
    Deliver the current state of ``course_id`` to one instance, if request ``generation`` is current.

    A plain function (the task and ``sync_courses_to_richie --pending`` call it): it never
    schedules anything itself, it says when to retry.
    """
    if deliveries_paused():
        return Outcome("paused")  # the row stays pending: the sweep delivers it once resumed
    state = CourseRunSyncState.objects.filter(course_id=course_id, instance=instance_name).first()
    if state is None or state.generation != generation:
        return Outcome("superseded")  # a newer request has its own delivery
    if state.status != SyncStatus.PENDING and not force:
        return Outcome("unchanged")  # already delivered (by a resync, or a duplicate message)
    config = get_config()
    route = Router(config).for_org(state.org)
    instance = route.get(instance_name)
    if instance is None:
        log.warning(
            "Richie sync of course %s skipped: instance %r no longer serves organisation %r "
            "(removed, disabled, ORGS or site configuration).", course_id, instance_name, state.org,
        )
        CourseRunSyncState.objects.filter(pk=state.pk, generation=generation).update(
            status=SyncStatus.FAILED, retryable=False, last_error=f"Instance {instance_name!r} no longer serves {state.org!r}."
        )
        return Outcome("skipped")
    token = CourseRunSyncState.objects.lease(state, lease_seconds(instance))
    if token is None:
        return Outcome("busy", retry_in=2 + random.uniform(0, 3))
    try:
        return _deliver_leased(state, token, instance, route, config, force)
    except BaseException:
        CourseRunSyncState.objects.release(token, instance_name, [course_id])
        raise


def _deliver_leased(state, token, instance, route, config, force):
    course_id, name = state.course_id, instance.name
    try:
        run = load_course_run(course_id, route.lms_root_url, with_modes=instance.send_prices)
        if run is None:
            if not state.payload_hash:  # deleted before Richie ever had it: nothing to hide
                CourseRunSyncState.objects.finish_unchanged(state, token)
                return Outcome("unchanged")
            run = CourseRun(course_id=course_id, org=state.org, lms_root_url=route.lms_root_url)
            payload = hidden_payload(run, instance)
            body = serialize(payload)
            item = Prepared(course_id, state.org, payload, body, payload_hash(body), state.attempts, state.generation, token)
        else:
            item = prepare(run, instance, config, force=True)
            item.attempts, item.generation, item.token = state.attempts, state.generation, token
    except PayloadError as error:
        return _payload_failed(state, token, name, config, error)
    if item.payload_hash == state.payload_hash and not force:
        CourseRunSyncState.objects.finish_unchanged(state, token, item.refresh_at)
        log.info("Richie sync course=%s instance=%s outcome=unchanged", course_id, name)
        return Outcome("unchanged")
    log.debug("Richie sync payload for course %s to %r: %s", course_id, name, item.payload)

    delivery = client_for(instance).post_body(item.body)
    log_delivery(course_id, instance, delivery, item.attempts + 1)
    result = ItemResult.of(item, delivery)
    retry_in = None
    if delivery.outcome == TRANSIENT and item.attempts < config.max_retries:
        result.state = SyncStatus.PENDING.value
        retry_in = backoff_delay(item.attempts, config.retry_backoff, config.retry_backoff_max, delivery.retry_after)
    elif delivery.outcome == TRANSIENT:
        log.error(
            "Richie sync of course %s to %r gave up after %d attempts: %s The sweep retries it in %d minutes; "
            "or run `./manage.py cms sync_courses_to_richie --failed --instance %s` once Richie is back.",
            course_id, name, item.attempts + 1, delivery.describe(), config.retry_failed_after // 60, name,
        )
    CourseRunSyncState.objects.finish(name, [result])
    if retry_in is not None:  # the sweep must not re-queue it before its retry is due
        CourseRunSyncState.objects.filter(pk=state.pk, generation=state.generation).update(
            due_at=timezone.now() + timedelta(seconds=retry_in)
        )
    if delivery.outcome == SUCCESS:
        return Outcome("sent")
    return Outcome("retrying", retry_in) if retry_in is not None else Outcome("failed")


def _payload_failed(state, token, name, config, error):
    """Record why no payload could be built; retry only what may pass later (a hook that raised)."""
    attempts = state.attempts + 1
    retry = error.retryable and state.attempts < config.max_retries
    log.error("Richie sync of course %s to %r not sent (attempt %d): %s", state.course_id, name, attempts, error)
    result = ItemResult(
        state.course_id, state.org, False, detail=str(error), attempts=attempts, generation=state.generation, token=token,
        state=(SyncStatus.PENDING if retry else SyncStatus.FAILED).value,
    )
    CourseRunSyncState.objects.finish(name, [result])
    if not retry:
        return Outcome("failed")
    retry_in = backoff_delay(state.attempts, config.retry_backoff, config.retry_backoff_max)
    CourseRunSyncState.objects.filter(pk=state.pk, generation=state.generation).update(
        due_at=timezone.now() + timedelta(seconds=retry_in)
    )
    return Outcome("retrying", retry_in)


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
@set_code_owner_attribute
def sync_course_run(self, course_id, instance_name, generation=None, force=False):
    """
    Deliver ``course_id`` to ``instance_name`` for request ``generation``.

    Without a generation (a direct call), a request is recorded first.
    """
    if generation is None:
        key = course_run_key(course_id)
        if key is None or Router().instance(instance_name, key.org) is None:
            log.warning("Richie sync of course %s skipped: instance %r does not serve it.", course_id, instance_name)
            return "skipped"
        generation = CourseRunSyncState.objects.request(course_id, key.org, [instance_name], timezone.now())[instance_name]
    outcome = deliver(course_id, instance_name, generation, force=force)
    set_custom_attribute("richie_sync.course_id", course_id)
    set_custom_attribute("richie_sync.instance", instance_name)
    set_custom_attribute("richie_sync.outcome", outcome.result)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.result


@shared_task(acks_late=True, ignore_result=True)
@set_code_owner_attribute
def sync_course_runs(course_ids, instance_name, force=False, only_failed=False):
    """Resync a batch of courses to one instance (``sync_courses_to_richie --async``)."""
    if deliveries_paused():
        log.warning("Richie resync of %d courses to %r skipped: deliveries are paused.", len(course_ids), instance_name)
        return None
    keys = [key for key in map(course_run_key, course_ids) if key is not None]
    resync = Resync(get_config(), [instance_name], force=force, only_failed=only_failed, batch_size=len(keys) or 1, concurrency=1)
    report = resync.run(iter_course_runs(course_keys=keys, chunk_size=len(keys) or 1)).get(instance_name)
    if report is None:
        log.warning("Richie resync of %d courses skipped: instance %r is not configured.", len(course_ids), instance_name)
        return None
    log.info(  # each course's outcome is logged by the resync itself
        "Richie resync instance=%s sent=%d unchanged=%d failed=%d busy=%d requests=%d",
        instance_name, report.sent, report.unchanged, report.failed, report.busy, report.requests,
    )
    return {"sent": report.sent, "unchanged": report.unchanged, "failed": report.failed}


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

    retried = request_again(CourseRunSyncState.objects.retry_due(retry_failed_after)) if retry_failed_after is not None else 0
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
    How far ahead a pending row may legitimately be due: the longest delay this version computes
    (a retry is capped by RETRY_BACKOFF_MAX, an enrollment update waits ENROLLMENT_COUNT_INTERVAL),
    plus 15 minutes. A row due later was parked by an earlier version: the sweep rescues it.
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


def log_delivery(course_id, instance, delivery, attempt):
    """One line per delivery: course, instance, outcome, HTTP status, attempt, duration, Richie's answer."""
    level = logging.INFO if delivery.ok else logging.WARNING if delivery.outcome == TRANSIENT else logging.ERROR
    log.log(
        level,
        "Richie sync course=%s instance=%s outcome=%s status=%s attempt=%d duration_ms=%d%s",
        course_id,
        instance.name,
        delivery.outcome,
        delivery.status,
        attempt,
        delivery.duration * 1000,
        "" if delivery.ok else f" answer={delivery.describe()!r}"
        + (f" retry_with='./manage.py cms sync_courses_to_richie {course_id} --instance {instance.name}'"
           if delivery.outcome == PERMANENT else ""),
    )

