"""
One course run to one instance, now: the publish path's delivery, as plain functions.

The Celery tasks (``tasks.py``) wrap these, and ``sync_courses_to_richie --pending`` calls
:func:`deliver` directly. Nothing here schedules anything: a delivery says when it must be
tried again (``Outcome.retry_in``) and the caller decides how.
"""

import logging
import random
from dataclasses import replace
from datetime import timedelta

from django.utils import timezone

from .configuration import get_config
from .data import CourseRun, DeliveryOutcome, ItemResult, Outcome, Prepared, SyncStatus, TaskOutcome
from .delivery import attempt_bound, backoff_delay, client_for
from .models import CourseRunSyncState
from .payload import PayloadError, hidden_payload
from .platform_api import course_run_key, iter_course_runs, load_course_run
from .resync import Resync, prepare
from .routing import Router
from .signing import payload_hash, serialize
from .toggles import deliveries_paused

log = logging.getLogger(__name__)


def lease_seconds(instance):
    """
    How long a delivery holds its row: never less than it can last, so the lease never expires under it.

    One attempt ends within ``delivery.attempt_bound(TIMEOUT)`` (TIMEOUT plus a second) whatever
    Richie does; the rest (2 × TIMEOUT + 9 s, so 3 × TIMEOUT + 10 s in all) leaves time to read
    the course and record the result.
    """
    return attempt_bound(instance.timeout) + 2 * instance.timeout + 9


def request_and_deliver(course_id, instance_name, generation=None, force=False):
    """:func:`deliver`; without a ``generation`` (a direct call of the task), a request is recorded first."""
    if generation is None:
        key = course_run_key(course_id)
        if key is None or Router().instance(instance_name, key.org) is None:
            log.warning("Richie sync of course %s skipped: instance %r does not serve it.", course_id, instance_name)
            return Outcome(result=TaskOutcome.SKIPPED)
        generations = CourseRunSyncState.objects.request(course_id, key.org, [instance_name], timezone.now())
        generation = generations[instance_name]
    return deliver(course_id, instance_name, generation, force=force)


def deliver(course_id, instance_name, generation, force=False):
    """Deliver the current state of ``course_id`` to one instance, if request ``generation`` is current."""
    if deliveries_paused():
        return Outcome(result=TaskOutcome.PAUSED)  # the row stays pending: the sweep delivers it once resumed
    state = CourseRunSyncState.objects.filter(course_id=course_id, instance=instance_name).first()
    if state is None or state.generation != generation:
        return Outcome(result=TaskOutcome.SUPERSEDED)  # a newer request has its own delivery
    if state.status != SyncStatus.PENDING and not force:
        return Outcome(result=TaskOutcome.UNCHANGED)  # already delivered (by a resync, or a duplicate message)
    config = get_config()
    route = Router(config).for_org(state.org)
    instance = route.get(instance_name)
    if instance is None:
        log.warning(
            "Richie sync of course %s skipped: instance %r no longer serves organisation %r "
            "(removed, disabled, ORGS or site configuration).", course_id, instance_name, state.org,
        )
        CourseRunSyncState.objects.filter(pk=state.pk, generation=generation).update(
            status=SyncStatus.FAILED, retryable=False,
            last_error=f"Instance {instance_name!r} no longer serves {state.org!r}.",
        )
        return Outcome(result=TaskOutcome.SKIPPED)
    token = CourseRunSyncState.objects.lease(state, lease_seconds(instance))
    if token is None:
        return Outcome(result=TaskOutcome.BUSY, retry_in=2 + random.uniform(0, 3))
    try:
        return _deliver_leased(state, token, instance, route, config, force)
    except BaseException:
        CourseRunSyncState.objects.release(token, instance_name, [course_id])
        raise


def _prepare_leased(state, token, instance, route, config):
    """
    What to send for the leased row.

    The course as it is now, the hiding payload of a deleted course, or None for a course deleted
    before Richie ever had it. Raises ``PayloadError``.
    """
    run = load_course_run(state.course_id, route.lms_root_url, with_modes=instance.send_prices)
    if run is not None:
        item = prepare(run, instance, config, force=True)
        return replace(item, attempts=state.attempts, generation=state.generation, token=token)
    if not state.payload_hash:
        return None
    run = CourseRun(course_id=state.course_id, org=state.org, lms_root_url=route.lms_root_url)
    payload = hidden_payload(run, instance)
    body = serialize(payload)
    return Prepared(
        course_id=state.course_id, org=state.org, payload=payload, body=body, payload_hash=payload_hash(body),
        attempts=state.attempts, generation=state.generation, token=token,
    )


# pylint: disable-next=too-many-positional-arguments  # private, one caller passes the row's whole context
def _deliver_leased(state, token, instance, route, config, force):
    """Send the leased row's payload (unless Richie has it already) and record Richie's answer."""
    course_id, name = state.course_id, instance.name
    try:
        item = _prepare_leased(state, token, instance, route, config)
    except PayloadError as error:
        return _payload_failed(state, token, name, config, error)
    if item is None or (item.payload_hash == state.payload_hash and not force):
        CourseRunSyncState.objects.finish_unchanged(state, token, item.refresh_at if item is not None else None)
        if item is not None:
            log.info("Richie sync course=%s instance=%s outcome=unchanged", course_id, name)
        return Outcome(result=TaskOutcome.UNCHANGED)
    log.debug("Richie sync payload for course %s to %r: %s", course_id, name, item.payload)

    delivery = client_for(instance).post_body(item.body)
    log_delivery(course_id, instance, delivery, item.attempts + 1)
    retry_in = None
    if delivery.outcome == DeliveryOutcome.TRANSIENT and item.attempts < config.max_retries:
        retry_in = backoff_delay(item.attempts, config.retry_backoff, config.retry_backoff_max, delivery.retry_after)
    elif delivery.outcome == DeliveryOutcome.TRANSIENT:
        log.error(
            "Richie sync of course %s to %r gave up after %d attempts: %s The sweep retries it in %d minutes; "
            "or run `./manage.py cms sync_courses_to_richie --failed --instance %s` once Richie is back.",
            course_id, name, item.attempts + 1, delivery.describe(), config.retry_failed_after // 60, name,
        )
    state_after = SyncStatus.PENDING if retry_in is not None else SyncStatus.FAILED
    CourseRunSyncState.objects.finish(name, [ItemResult.of(item, delivery, state=state_after)])
    if delivery.ok:
        return Outcome(result=TaskOutcome.SENT)
    if retry_in is None:
        return Outcome(result=TaskOutcome.FAILED)
    _postpone(state, retry_in)
    return Outcome(result=TaskOutcome.RETRYING, retry_in=retry_in)


def _postpone(state, seconds):
    """Move the row's due time to its scheduled retry: the sweep must not re-queue it before."""
    CourseRunSyncState.objects.filter(pk=state.pk, generation=state.generation).update(
        due_at=timezone.now() + timedelta(seconds=seconds)
    )


def _payload_failed(state, token, name, config, error):
    """Record why no payload could be built; retry only what may pass later (a hook that raised)."""
    attempts = state.attempts + 1
    retry = error.retryable and state.attempts < config.max_retries
    log.error("Richie sync of course %s to %r not sent (attempt %d): %s", state.course_id, name, attempts, error)
    result = ItemResult(
        course_id=state.course_id, org=state.org, ok=False, detail=str(error), attempts=attempts,
        generation=state.generation, token=token, state=SyncStatus.PENDING if retry else SyncStatus.FAILED,
    )
    CourseRunSyncState.objects.finish(name, [result])
    if not retry:
        return Outcome(result=TaskOutcome.FAILED)
    retry_in = backoff_delay(state.attempts, config.retry_backoff, config.retry_backoff_max)
    _postpone(state, retry_in)
    return Outcome(result=TaskOutcome.RETRYING, retry_in=retry_in)


def resync_batch(course_ids, instance_name, force=False, only_failed=False):
    """Resync a batch of courses to one instance (``sync_courses_to_richie --async``); the counts, or None."""
    if deliveries_paused():
        log.warning("Richie resync of %d courses to %r skipped: deliveries are paused.", len(course_ids), instance_name)
        return None
    keys = [key for key in map(course_run_key, course_ids) if key is not None]
    resync = Resync(
        get_config(), [instance_name], force=force, only_failed=only_failed, batch_size=len(keys) or 1, concurrency=1
    )
    report = resync.run(iter_course_runs(course_keys=keys, chunk_size=len(keys) or 1)).get(instance_name)
    if report is None:
        log.warning(
            "Richie resync of %d courses skipped: instance %r is not configured.", len(course_ids), instance_name
        )
        return None
    log.info(  # each course's outcome is logged by the resync itself
        "Richie resync instance=%s sent=%d unchanged=%d failed=%d busy=%d requests=%d",
        instance_name, report.sent, report.unchanged, report.failed, report.busy, report.requests,
    )
    return {"sent": report.sent, "unchanged": report.unchanged, "failed": report.failed}


def log_delivery(course_id, instance, delivery, attempt):
    """One line per delivery: course, instance, outcome, HTTP status, attempt, duration, Richie's answer."""
    if delivery.ok:
        level = logging.INFO
    else:
        level = logging.WARNING if delivery.outcome == DeliveryOutcome.TRANSIENT else logging.ERROR
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
           if delivery.outcome == DeliveryOutcome.PERMANENT else ""),
    )
