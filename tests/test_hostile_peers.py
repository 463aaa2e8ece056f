"""
The client against peers that are not Richie, or not well: real HTTP to the receiver's hostile knobs.

Each test is bounded to a few seconds: TIMEOUT is 1 s where the peer is slow, and nothing waits
for a dripping or endless answer to end.
"""

import tracemalloc
from datetime import timedelta

import pytest
from django.utils import timezone

from openedx_richie_sync.configuration import Instance, SyncConfig, get_config
from openedx_richie_sync.data import DeliveryOutcome, Prepared
from openedx_richie_sync.delivery import RichieClient, attempt_bound
from openedx_richie_sync.models import CourseRunSyncState, SyncStatus
from openedx_richie_sync.resync import BATCH_BACKOFF_MAX, BatchSender
from openedx_richie_sync.signing import payload_hash, serialize
from openedx_richie_sync.tasks import parked_horizon

from .helpers import SECRET

LINK = "https://lms.example.com/courses/course-v1:DemoX+Demo101+2026/info"
PAYLOAD = {"resource_link": LINK, "start": "2026-09-01T08:00:00Z", "languages": ["en"]}


def client(url, timeout=2.0):
    return RichieClient(Instance(name="catalog", url=url, secret=SECRET, timeout=timeout))


def prepared(index):
    payload = {**PAYLOAD, "resource_link": LINK.replace("Demo101", f"Demo{index:03d}")}
    body = serialize(payload)
    return Prepared(
        course_id=f"course-v1:DemoX+Demo{index:03d}+2026",
        org="DemoX",
        payload=payload,
        body=body,
        payload_hash=payload_hash(body),
    )


def sender(url, sleeps=None, timeout=2.0, **config):
    instance = Instance(name="catalog", url=url, secret=SECRET, timeout=timeout)
    settings = {"retry_backoff": 0.01, "retry_backoff_max": 0.05, **config}
    return BatchSender(instance, SyncConfig(instances=(instance,), **settings),
                       sleep=(sleeps.append if sleeps is not None else lambda seconds: None))


# --- 1. success only in Richie's exact forms ------------------------------------------------------


@pytest.mark.parametrize("answer", ["html", "ok", "list", "empty", "false"])
def test_a_200_that_is_not_richies_answer_is_a_transient_failure(receiver, answer):
    receiver.non_richie_next(1, answer)
    delivery = client(receiver.url).post(PAYLOAD)
    assert (delivery.outcome, delivery.status) == (DeliveryOutcome.TRANSIENT, 200)
    assert "answered 200 but not as Richie does" in delivery.describe()
    assert "maintenance page" in delivery.hint and receiver.url in delivery.hint


@pytest.mark.parametrize("body", ['{"success":true}', "[]", "OK", '{"success":false}'])
def test_check_says_ok_only_on_an_empty_object(receiver, body):
    receiver.answer_next(1, body)
    delivery = client(receiver.url).check()
    assert delivery.outcome == DeliveryOutcome.TRANSIENT and "Richie answers {}" in delivery.detail
    assert client(receiver.url).check().ok  # Richie's own answer: {}


def test_a_list_answered_with_an_empty_object_is_not_delivered(receiver):
    receiver.non_richie_next(1, "empty")
    results, requests, fatal = sender(receiver.url).send([prepared(1), prepared(2)])
    assert fatal is None and requests == 2  # retried as a whole, then Richie's answer
    assert all(result.ok for result in results)


def test_runs_left_out_of_a_batch_answer_are_sent_again(receiver):
    items = [prepared(index) for index in range(4)]
    receiver.partial_next(1, leave_out=2)
    results, requests, _ = sender(receiver.url).send(items)
    assert requests == 2 and all(result.ok for result in results)
    assert len(receiver.requests[1].json()) == 2  # only the two runs left out


def test_a_run_left_out_is_reported_as_such():
    from openedx_richie_sync.delivery import classify, run_outcome  # pylint: disable=import-outside-toplevel

    links = (LINK, LINK + "/")
    delivery = classify(200, {}, '{"%s": {"success": true}}' % LINK, sent=links)
    assert delivery.outcome == DeliveryOutcome.TRANSIENT
    assert run_outcome(delivery, LINK).ok
    missing = run_outcome(delivery, LINK + "/")
    assert missing.outcome == DeliveryOutcome.TRANSIENT and "left this course run out" in missing.detail


def test_a_run_always_left_out_fails_transiently_the_others_are_delivered(receiver):
    items = [prepared(index) for index in range(3)]
    receiver.partial_next(4, leave_out=1)
    results, requests, _ = sender(receiver.url).send(items)
    by_course = {result.course_id: result for result in results}
    assert requests == 4 and len(by_course) == 3
    left_out = by_course[items[-1].course_id]
    assert not left_out.ok and left_out.retryable and "not as Richie does" in left_out.detail
    assert all(by_course[item.course_id].ok for item in items[:-1])


# --- 2. Retry-After is capped everywhere ----------------------------------------------------------


@pytest.mark.parametrize("value", ["86400", "Fri, 31 Dec 9999 23:59:59 GMT", "1e12", "inf", "nan", "-5", "soon?!"])
def test_batch_retries_never_sleep_past_the_cap(receiver, value):
    receiver.retry_after_next(3, value, status=503)
    sleeps = []
    results, requests, _ = sender(receiver.url, sleeps, retry_backoff_max=600).send([prepared(1)])
    assert requests == 4 and results[0].ok
    assert len(sleeps) == 3 and all(0 <= seconds <= BATCH_BACKOFF_MAX for seconds in sleeps)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "value", ["86400", "Fri, 31 Dec 9999 23:59:59 GMT", "1e12", "inf", "nan", "-1", "Mon, 01 Jan 2024 00:00:00 -0000"]
)
def test_the_publish_path_retries_within_retry_backoff_max(richie_sync, receiver, course, value):
    from openedx_richie_sync.sync import deliver  # pylint: disable=import-outside-toplevel

    richie_sync.update(RETRY_BACKOFF=1, RETRY_BACKOFF_MAX=60)
    receiver.retry_after_next(1, value)
    generation = CourseRunSyncState.objects.request(str(course.id), "DemoX", ["catalog"], timezone.now())["catalog"]
    outcome = deliver(str(course.id), "catalog", generation)
    assert outcome.result == "retrying" and 0 <= outcome.retry_in <= 60
    row = CourseRunSyncState.objects.get()
    assert row.status == SyncStatus.PENDING and row.due_at <= timezone.now() + timedelta(seconds=60)


@pytest.mark.django_db
@pytest.mark.usefixtures("richie_sync")
def test_the_sweep_rescues_rows_parked_far_in_the_future(course):
    now = timezone.now()
    CourseRunSyncState.objects.request(str(course.id), "DemoX", ["catalog"], now + timedelta(days=1))
    CourseRunSyncState.objects.request("course-v1:DemoX+Soon+2026", "DemoX", ["catalog"], now + timedelta(seconds=30))
    horizon = parked_horizon(get_config())  # what the sweep passes
    due = CourseRunSyncState.objects.due(grace_seconds=300, horizon_seconds=horizon).values_list("course_id", flat=True)
    assert list(due) == [str(course.id)]  # RETRY_BACKOFF_MAX 0.05 s, ENROLLMENT_COUNT_INTERVAL 1 h: a day is absurd


@pytest.mark.django_db
@pytest.mark.usefixtures("richie_sync")
def test_the_sweep_leaves_throttled_enrollment_updates_alone(course):
    CourseRunSyncState.objects.request(str(course.id), "DemoX", ["catalog"], timezone.now() + timedelta(minutes=50))
    assert not CourseRunSyncState.objects.due(grace_seconds=300, horizon_seconds=parked_horizon(get_config())).exists()


# --- 3. answers are read up to a bound -------------------------------------------------------------


def _peak_megabytes(action):
    """``action()``'s result and the peak memory it allocated, in megabytes (tracemalloc)."""
    tracemalloc.start()
    try:
        result = action()
        return result, tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("knob", ["huge", "endless", "bomb"])
def test_an_oversized_answer_is_transient_and_not_held_in_memory(receiver, knob):
    {"huge": lambda: receiver.huge_next(1, 50 * 1024 * 1024), "endless": lambda: receiver.endless_next(1),
     "bomb": lambda: receiver.gzip_next(1, bomb_size=50 * 1024 * 1024)}[knob]()
    richie = client(receiver.url)
    delivery, peak = _peak_megabytes(lambda: richie.post(PAYLOAD))
    assert (delivery.outcome, delivery.status) == (DeliveryOutcome.TRANSIENT, 200)
    assert "more than 64 KiB, not as Richie does" in delivery.detail and "Check URL" in delivery.hint
    assert peak < 10
    assert richie.post(PAYLOAD).ok  # the half-read connection was closed, not reused
    assert receiver.connections_opened == 2


def test_a_gzip_compressed_richie_answer_is_read(receiver):
    receiver.gzip_next(1)
    delivery = client(receiver.url).post(PAYLOAD)
    assert delivery.ok and receiver.requests[-1].response_headers["Content-Encoding"] == "gzip"


def test_a_richie_answer_keeps_the_connection_alive(receiver):
    richie = client(receiver.url)
    assert richie.post(PAYLOAD).ok and richie.post(PAYLOAD).ok and richie.check().ok
    assert receiver.connections_opened == 1


# --- 4. TIMEOUT bounds the whole attempt ---------------------------------------------------------


@pytest.mark.parametrize("headers_too", [False, True])
def test_a_dripping_answer_ends_the_attempt_at_timeout(receiver, headers_too):
    receiver.drip_next(1, bytes_per_second=4, headers_too=headers_too)  # {"success":true} alone takes 4 s
    delivery = client(receiver.url, timeout=1.0).post(PAYLOAD)
    assert delivery.outcome == DeliveryOutcome.TRANSIENT and delivery.status is None
    assert "timed out" in delivery.detail and "drips its answer" in delivery.hint
    assert delivery.duration < attempt_bound(1.0) + 1  # generous: the bound is TIMEOUT + 1 s


def test_a_quick_enough_drip_is_delivered(receiver):
    receiver.drip_next(1, bytes_per_second=200)
    assert client(receiver.url, timeout=2.0).post(PAYLOAD).ok


# --- 5. clear errors -------------------------------------------------------------------------------


def test_https_on_a_plain_http_port_says_so(receiver):
    delivery = client(receiver.url.replace("http://", "https://")).post(PAYLOAD)
    assert delivery.outcome == DeliveryOutcome.PERMANENT and "serves plain HTTP" in delivery.hint
    assert "renew" not in delivery.describe()


def test_413_on_one_run_is_permanent_and_names_the_body_limit(receiver):
    receiver.set_body_limit(10)
    delivery = client(receiver.url).post(PAYLOAD)
    assert (delivery.outcome, delivery.status) == (DeliveryOutcome.PERMANENT, 413)
    assert "too large for the server's body size limit" in delivery.hint


def test_413_on_a_batch_splits_it_and_points_at_batch_size(receiver, caplog):
    items = [prepared(index) for index in range(4)]
    receiver.set_body_limit(2 * len(items[0].body) + 10)  # two runs fit, four do not
    batch_sender = sender(receiver.url)
    results, requests, fatal = batch_sender.send(items)
    assert fatal is None and not batch_sender.aborted
    assert all(result.ok for result in results) and requests == 3
    assert "--batch-size" in caplog.text


def test_413_on_a_batch_of_one_fails_that_run_only(receiver):
    receiver.set_body_limit(10)
    batch_sender = sender(receiver.url)
    (result,), _, fatal = batch_sender.send([prepared(1)])
    assert fatal is None and not batch_sender.aborted
    assert not result.ok and not result.retryable and "body size limit" in result.detail


@pytest.mark.parametrize(
    "status, outcome",
    [(200, DeliveryOutcome.TRANSIENT), (400, DeliveryOutcome.PERMANENT), (500, DeliveryOutcome.TRANSIENT)],
)
def test_deeply_nested_json_is_not_richies_answer(receiver, status, outcome):
    receiver.deep_json_next(1, depth=900, status=status)
    delivery = client(receiver.url).post(PAYLOAD)
    assert (delivery.outcome, delivery.status) == (outcome, status)
    assert delivery.describe()
    receiver.deep_json_next(1, depth=900, status=200)
    (result,), _, _ = sender(receiver.url, retry_backoff=0).send([prepared(1)])  # retried, then delivered
    assert result.ok
