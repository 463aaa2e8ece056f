"""Publish in Studio → on_commit → real Celery worker on real Redis → signed POST to a real receiver."""

import logging
import time

import pytest
from django.db import transaction

from openedx_richie_sync import dispatch
from test_support import studio

from ..helpers import make_course

pytestmark = pytest.mark.integration

COURSE = "course-v1:DemoX+Demo101+2026"
LINK = f"https://lms.example.com/courses/{COURSE}/info"


def eventually(predicate, timeout=20.0):
    """Poll ``predicate()`` until it is true: True, or False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def publish(course_id=COURSE, **fields):
    """What Studio does: save the course and fire course_published inside the request's transaction."""
    with transaction.atomic():
        make_course(course_id, **fields)
        studio.publish(course_id)


def test_publish_reaches_richie_signed_with_the_right_payload(live, richie, partner):
    publish(language="fr_CA", catalog_visibility="about")
    assert richie.wait_for(lambda r: LINK in r.runs, timeout=20), live.log_text[-3000:]
    assert partner.wait_for(lambda r: LINK in r.runs, timeout=20)
    assert richie.runs[LINK]["languages"] == ["fr"]
    assert richie.runs[LINK]["catalog_visibility"] == "course_only"
    assert richie.runs[LINK]["start"] == "2026-09-01T08:00:00Z"
    assert [request.status for request in richie.requests] == [200]
    assert not richie.naive_dates


def test_failing_instance_never_delays_or_duplicates_the_healthy_one(live, richie, partner):
    partner.fail_next(100, status=503)
    publish()
    assert richie.wait_for(lambda r: LINK in r.runs, timeout=20)
    attempts = 1 + live_settings_retries(live)
    assert partner.wait_for(lambda r: len(r.requests) >= attempts, timeout=30), live.log_text[-3000:]
    assert [request.status for request in richie.requests] == [200]
    assert richie.requests[0].received_at < partner.requests[1].received_at  # not held back by the retries
    assert partner.runs == {}
    assert eventually(lambda: "gave up after" in live.log_text)


def live_settings_retries(worker):
    return worker.richie_sync["MAX_RETRIES"]


@pytest.mark.usefixtures("partner")
def test_503_then_success_is_retried_by_the_worker(live, richie):
    richie.fail_next(2, status=503)
    publish(course_id="course-v1:DemoX+Retry+2026")
    link = "https://lms.example.com/courses/course-v1:DemoX+Retry+2026/info"
    assert richie.wait_for(lambda r: link in r.runs, timeout=30), live.log_text[-3000:]
    assert [request.status for request in richie.requests] == [503, 503, 200]


def test_wrong_secret_fails_fast_without_retry_storm(live, richie, partner):
    richie.set_secrets("rotated-away")
    try:
        publish(course_id="course-v1:DemoX+Secret+2026")
        assert richie.wait_for(lambda r: len(r.requests) >= 1, timeout=20)
        assert partner.wait_for(lambda r: len(r.requests) >= 1, timeout=20)
        assert [request.status for request in richie.requests] == [401]
        assert eventually(lambda: "RICHIE_COURSE_RUN_SYNC_SECRETS" in live.log_text)
        time.sleep(0.5)  # no retry may follow
        assert [request.status for request in richie.requests] == [401]
        assert "peer-secret-1" not in live.log_text
    finally:
        richie.set_secrets("peer-secret-1")


@pytest.mark.usefixtures("richie")
def test_publishing_with_the_broker_down_does_not_raise(live, redis_server, caplog):
    redis_server.stop()
    try:
        with caplog.at_level(logging.ERROR, logger="openedx_richie_sync"):
            publish(course_id="course-v1:DemoX+Down+2026")  # returns before the sender thread tries the broker
            assert dispatch.flush(10)
        messages = [record.getMessage() for record in caplog.records]
        assert len(messages) == 1  # one message carried both deliveries: one error names both instances
        assert "course-v1:DemoX+Down+2026" in messages[0] and "recorded as pending" in messages[0]
        assert "catalog, partner" in messages[0]
    finally:
        redis_server.start()
        live.stop()  # a worker that lost its broker may be exiting: restart it, as a supervisor would
        live.start()
