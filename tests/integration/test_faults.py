"""
Fault injection on the real path.

Studio-like publishes, a real Redis broker, a real Celery worker (with beat running the sweep every
second) and the Richie-compatible receiver.

Every case ends with the same check: for every course, the receiver holds exactly the payload
built from the course's latest data, and nothing was lost.
"""

# pylint: disable=redefined-outer-name  # pytest passes fixtures by name

import random
import threading
import time

import pytest
from django.db import connection, transaction

from openedx_richie_sync.configuration import get_config
from openedx_richie_sync.models import CourseRunSyncState, SyncStatus
from openedx_richie_sync.payload import build_payload
from openedx_richie_sync.platform_api import load_course_run
from test_support import studio

from ..helpers import make_course

pytestmark = pytest.mark.integration
LANGUAGES = ["en", "fr", "de", "es-419", "pt_BR", "zh_CN", "it"]


def course_ids(count, code="F"):
    return [f"course-v1:FaultX+{code}{index:02d}+2026" for index in range(count)]


def publish(course_id, **fields):
    with transaction.atomic():
        make_course(course_id, **fields)
        studio.publish(course_id)


def expected_runs(ids, instance_name="catalog"):
    config = get_config()
    instance = config.instance(instance_name)
    return {
        payload["resource_link"]: payload
        for payload in (build_payload(load_course_run(i), instance, config) for i in ids)
    }


def lost(receiver, ids, instance_name="catalog"):
    """Courses whose latest payload the receiver does not hold exactly."""
    expected = expected_runs(ids, instance_name)
    with receiver.lock:
        return [link for link, payload in expected.items() if receiver.runs.get(link) != payload]


def settle(receiver, ids, worker, timeout=60, instance_name="catalog"):
    """Wait until the receiver holds the latest payload of every course and no row is pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.ensure_running()  # a supervisor's job (see the broker test)
        if not lost(receiver, ids, instance_name) and not CourseRunSyncState.objects.filter(
            instance=instance_name, status=SyncStatus.PENDING
        ).exists():
            return []
        time.sleep(0.2)
    missing = lost(receiver, ids, instance_name)
    assert not missing, f"not delivered: {missing}\n" + worker.log_text[-4000:]
    return missing


# pylint: disable-next=too-many-positional-arguments  # pytest passes fixtures by name
def record(report, case, publishes, faults, receiver, missing):
    report.append(
        {
            "case": case,
            "publishes": publishes,
            "faults": faults,
            "requests": len(receiver.requests),
            "lost": len(missing),
        }
    )


def test_richie_down_then_back(live, richie, fault_report):
    ids = course_ids(5, "Down")
    richie.stop()
    for index, course_id in enumerate(ids):
        publish(course_id, language=LANGUAGES[index])
    time.sleep(2)  # deliveries fail and back off (connection refused)
    richie.start()
    missing = settle(richie, ids, live)
    record(fault_report, "Richie down, then back", len(ids), len(ids), richie, missing)
    assert CourseRunSyncState.objects.filter(instance="catalog", status=SyncStatus.SYNCED).count() == len(ids)


@pytest.mark.parametrize(
    "case, code, inject, faults",
    [
        ("500 for the first 6 attempts", "E500", lambda richie: richie.fail_next(6, status=500), 6),
        ("503 for the first 6 attempts", "E503", lambda richie: richie.fail_next(6, status=503), 6),
        (
            "timeouts (3 requests held 2.5 s)",
            "Slow",
            lambda richie: richie.timeout_next(3, delay=2.5),
            3,
        ),  # TIMEOUT 1 s
        ("connection reset mid-request (4)", "Reset", lambda richie: richie.drop_next(4), 4),
    ],
)
# pylint: disable-next=too-many-positional-arguments  # pytest passes fixtures by name
def test_transient_faults(live, richie, fault_report, case, code, inject, faults):
    ids = course_ids(4, code)
    inject(richie)
    for course_id in ids:
        publish(course_id)
    missing = settle(richie, ids, live)
    assert richie.pending_faults == 0
    record(fault_report, case, len(ids), faults, richie, missing)


def test_rate_limited_with_retry_after(live, richie, fault_report):
    ids = course_ids(3, "Busy")
    richie.rate_limit_next(3, retry_after=1)
    for course_id in ids:
        publish(course_id)
    missing = settle(richie, ids, live)
    mine = [r for r in richie.requests if any(course_id.encode() in r.body for course_id in ids)]
    limited = [r for r in mine if r.status == 429]
    assert len(limited) == 3
    for request in limited:  # the retry of a rate-limited delivery waits at least Retry-After
        retry = next(r for r in mine if r.received_at > request.received_at and r.body == request.body)
        assert retry.received_at - request.received_at >= 0.95
    record(fault_report, "429 with Retry-After: 1 (3)", len(ids), 3, richie, missing)


def test_broker_stopped_during_publishes_then_restarted(live, richie, redis_server, fault_report):
    ids = course_ids(6, "Broker")
    publish(ids[0])
    redis_server.stop()
    try:
        for course_id in ids[1:]:
            publish(course_id)  # never raises; rows stay pending
        assert CourseRunSyncState.objects.filter(status=SyncStatus.PENDING).count() >= 2 * (len(ids) - 1)
    finally:
        redis_server.start()
    # Celery's worker may exit when Redis vanishes (kombu's Redis transport fails while restoring
    # unacknowledged messages); deployments run it under a supervisor that restarts it: settle()
    # does the same.
    missing = settle(richie, ids, live, timeout=90)  # beat's sweep re-queues what could not be queued
    record(fault_report, "broker stopped during 5 publishes", len(ids), 1, richie, missing)


def test_worker_killed_during_a_delivery(live, richie, fault_report):
    ids = course_ids(2, "Kill")
    richie.timeout_next(1, delay=30)  # holds the first delivery while we kill the worker
    publish(ids[0])
    assert richie.wait_for(lambda r: len(r.requests) >= 0 and r.pending_faults == 0, timeout=20)
    live.kill()
    publish(ids[1])  # queued while no worker runs
    live.start()
    missing = settle(richie, ids, live, timeout=90)  # the lease expires, the sweep re-queues
    record(fault_report, "worker killed during a delivery", len(ids), 1, richie, missing)


def test_wrong_secret_fails_fast_without_a_retry_storm(live, richie, fault_report):
    richie.set_secrets("rotated-away")
    try:
        publish("course-v1:FaultX+Secret+2026")
        assert richie.wait_for(lambda r: len(r.requests) >= 1, timeout=20)
        time.sleep(3)  # longer than the sweep's retry delay for transient failures
        assert [r.status for r in richie.requests] == [401]
        row = CourseRunSyncState.objects.get(course_id="course-v1:FaultX+Secret+2026", instance="catalog")
        assert (row.status, row.retryable) == (SyncStatus.FAILED, False)
        assert "RICHIE_COURSE_RUN_SYNC_SECRETS" in row.last_error and "peer-secret-1" not in live.log_text
        record(fault_report, "wrong secret (permanent, not retried)", 1, 1, richie, [])
    finally:
        richie.set_secrets("peer-secret-1")


def test_concurrent_publishes_with_random_edits(live, richie, fault_report):
    ids = course_ids(10, "Race")
    rng = random.Random(42)
    richie.fail_next(5, status=503)
    edits = [(rng.choice(ids), rng.choice(LANGUAGES), rng.choice(["both", "about", "none"])) for _ in range(50)]
    errors = []

    def studio(chunk):
        try:
            for course_id, language, visibility in chunk:
                publish(course_id, language=language, catalog_visibility=visibility)
                time.sleep(rng.uniform(0, 0.05))
        except Exception as error:  # pylint: disable=broad-except
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=studio, args=(edits[index::5],)) for index in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    missing = settle(richie, ids, live, timeout=90)
    deliveries = len([r for r in richie.requests if r.status == 200])
    assert deliveries < len(edits)  # bursts were coalesced
    record(fault_report, "50 concurrent publishes, 10 courses", len(edits), 5, richie, missing)
