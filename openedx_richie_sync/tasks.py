"""
Celery tasks: deliveries to Richie.

``sync_course_run`` is the publish path: one task per (course, instance), so one instance failing
never delays another. ``sync_course_runs`` is ``sync_courses_to_richie --async``: one batch of
courses for one instance. Arguments are course keys and instance names (JSON, no secret); the
courses are read when the task runs, so the latest data is sent. Both go through ``resync`` and
the sync-state table: what Richie already has is not sent again.
"""

import logging

from celery import shared_task
from edx_django_utils.monitoring import set_code_owner_attribute

from .configuration import get_config
from .delivery import TRANSIENT, backoff_delay, client_for
from .models import CourseRunSyncState
from .payload import PayloadError
from .platform_api import course_run_key, iter_course_runs, load_course_run
from .resync import ItemResult, Resync, prepare

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
@set_code_owner_attribute
def sync_course_run(self, course_id, instance_name, force=False):
    """Send the current state of ``course_id`` to the Richie instance ``instance_name``."""
    config = get_config()
    instance = config.instance(instance_name)
    if instance is None:
        log.warning(
            "Richie sync of course %s skipped: instance %r is no longer configured or is disabled.",
            course_id, instance_name,
        )
        return "skipped"
    run = load_course_run(course_id)
    if run is None:
        log.warning("Richie sync of course %s to %r skipped: the course does not exist.", course_id, instance_name)
        return "skipped"
    if not instance.serves(run.org):
        return "skipped"
    state = CourseRunSyncState.objects.filter(course_id=run.course_id, instance=instance_name).first()
    try:
        item = prepare(run, instance, config, state, force=force)
    except PayloadError as error:
        log.error("Richie sync of course %s to %r not sent: %s", course_id, instance_name, error)
        CourseRunSyncState.objects.record(instance_name, [ItemResult(run.course_id, run.org, False, detail=str(error))])
        return "failed"
    if item is None:
        log.info("Richie sync course=%s instance=%s outcome=unchanged", course_id, instance_name)
        return "unchanged"
    log.debug("Richie sync payload for course %s to %r: %s", course_id, instance_name, item.payload)

    delivery = client_for(instance).post_body(item.body)
    attempt = self.request.retries + 1
    log_delivery(course_id, instance, delivery, attempt)
    CourseRunSyncState.objects.record(
        instance_name, [ItemResult.of(item, delivery.ok, delivery.status, "" if delivery.ok else delivery.describe())]
    )
    if delivery.outcome == TRANSIENT and self.request.retries < config.max_retries:
        countdown = backoff_delay(self.request.retries, config.retry_backoff, config.retry_backoff_max, delivery.retry_after)
        raise self.retry(countdown=countdown, max_retries=config.max_retries)
    if delivery.outcome == TRANSIENT:
        log.error(
            "Richie sync of course %s to %r gave up after %d attempts: %s Run "
            "`./manage.py cms sync_courses_to_richie %s --instance %s` once Richie is back.",
            course_id, instance.name, attempt, delivery.describe(), course_id, instance.name,
        )
    return "sent" if delivery.ok else "failed"


@shared_task(acks_late=True, ignore_result=True)
@set_code_owner_attribute
def sync_course_runs(course_ids, instance_name, force=False, only_failed=False):
    """Resync a batch of courses to one instance (``sync_courses_to_richie --async``)."""
    config = get_config()
    instance = config.instance(instance_name)
    if instance is None:
        log.warning("Richie resync of %d courses skipped: instance %r is not configured.", len(course_ids), instance_name)
        return None
    keys = [key for key in map(course_run_key, course_ids) if key is not None]
    resync = Resync(config, [instance], force=force, only_failed=only_failed, batch_size=len(keys) or 1, concurrency=1)
    report = resync.run(iter_course_runs(course_keys=keys, chunk_size=len(keys) or 1))[instance_name]
    log.info(
        "Richie resync instance=%s sent=%d unchanged=%d failed=%d requests=%d",
        instance_name, report.sent, report.unchanged, report.failed, report.requests,
    )
    for course_id, detail in report.failures:
        log.error("Richie resync of course %s to %r failed: %s", course_id, instance_name, detail)
    return {"sent": report.sent, "unchanged": report.unchanged, "failed": report.failed}


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
        "" if delivery.ok else f" answer={delivery.describe()!r}",
    )
