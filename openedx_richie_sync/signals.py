"""
Signal receivers, connected by the plugin framework (see ``apps.py``).

Receivers never raise into Studio and never talk to Richie: they queue Celery tasks once the
request's transaction has committed, so the task reads the data that was actually saved.
"""

import logging
from functools import partial

from django.db import transaction

from .configuration import get_config
from .platform_api import course_run_key

log = logging.getLogger(__name__)

# Enqueueing happens in Studio's request: ask the broker once, briefly, never the client's
# default reconnection loop (several seconds per call when the broker is down, FACTS.md).
BROKER_FAILFAST = {"connect_timeout": 2, "transport_options": {"max_retries": 0}}


def course_published(sender, course_key, **kwargs):  # pylint: disable=unused-argument
    """Studio published ``course_key``: sync it to every Richie instance that serves its org."""
    key = course_run_key(course_key)
    if key is None:
        log.debug("Richie sync ignores %s: not a course run (CCX or library).", course_key)
        return
    transaction.on_commit(partial(enqueue_course_sync, str(key)))


def enqueue_course_sync(course_id, instance_names=None):
    """
    Queue one delivery task per instance; return the names of the instances that could not be queued.

    One short-lived broker connection without reconnection retries: a broker outage costs
    Studio one refused connection, and the failure is logged with what to do.
    """
    from .tasks import sync_course_run  # pylint: disable=import-outside-toplevel

    config = get_config()
    org = course_run_key(course_id).org
    instances = [
        instance for instance in config.instances_for_org(org)
        if instance_names is None or instance.name in instance_names
    ]
    if not instances:
        return []
    options = {"retry": False}
    if config.celery_queue:
        options["queue"] = config.celery_queue
    failed = []
    with sync_course_run.app.connection_for_write(**BROKER_FAILFAST) as connection:
        for instance in instances:
            try:
                sync_course_run.apply_async(args=(course_id, instance.name), connection=connection, **options)
            except Exception as error:  # pylint: disable=broad-except
                failed.append(instance.name)
                log.error(
                    "Could not queue the Richie sync of course %s to instance %r: the Celery broker is "
                    "unreachable (%s: %s). The publish itself succeeded. Once the broker is back, run "
                    "`./manage.py cms sync_courses_to_richie %s --instance %s`.",
                    course_id, instance.name, type(error).__name__, error, course_id, instance.name,
                )
    return failed
