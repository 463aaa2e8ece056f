"""
Celery tasks: one delivery per (course, Richie instance).

A task carries only the course key and the instance name (JSON, no secret), reads the course
when it runs (so it always sends the latest data), and retries transient failures with
exponential backoff and full jitter. One instance failing never delays another: each has its
own task.
"""

import logging

from celery import shared_task
from edx_django_utils.monitoring import set_code_owner_attribute

from .configuration import get_config
from .delivery import PERMANENT, TRANSIENT, backoff_delay, client_for
from .payload import PayloadError, build_payload
from .platform_api import load_course_run

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
@set_code_owner_attribute
def sync_course_run(self, course_id, instance_name):
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
    try:
        payload = build_payload(run, instance, config)
    except PayloadError as error:
        log.error("Richie sync of course %s to %r not sent: %s", course_id, instance_name, error)
        return "failed"
    log.debug("Richie sync payload for course %s to %r: %s", course_id, instance_name, payload)

    delivery = client_for(instance).post(payload)
    attempt = self.request.retries + 1
    log_delivery(course_id, instance, delivery, attempt)
    if delivery.outcome == TRANSIENT and self.request.retries < config.max_retries:
        countdown = backoff_delay(self.request.retries, config.retry_backoff, config.retry_backoff_max, delivery.retry_after)
        raise self.retry(countdown=countdown, max_retries=config.max_retries)
    if delivery.outcome == TRANSIENT:
        log.error(
            "Richie sync of course %s to %r gave up after %d attempts: %s Run "
            "`./manage.py cms sync_courses_to_richie %s --instance %s` once Richie is back.",
            course_id, instance.name, attempt, delivery.describe(), course_id, instance.name,
        )
        return "failed"
    return "failed" if delivery.outcome == PERMANENT else "sent"


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
