"""Signed delivery over real HTTP to the Richie-compatible receiver, and outcome classification."""

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from openedx_richie_sync.configuration import Instance
from openedx_richie_sync.delivery import (
    PERMANENT,
    SUCCESS,
    TRANSIENT,
    RichieClient,
    backoff_delay,
    classify,
    parse_retry_after,
)

from .conftest import SECRET

LINK = "https://lms.example.com/courses/course-v1:DemoX+Demo101+2026/info"
PAYLOAD = {"resource_link": LINK, "start": "2026-09-01T08:00:00Z", "languages": ["en"]}


def client_for_url(url, secret=SECRET, timeout=2.0):
    return RichieClient(Instance(name="catalog", url=url, secret=secret, timeout=timeout))


def test_accepted_payload_is_stored_and_signed_over_sent_bytes(receiver):
    delivery = client_for_url(receiver.url).post(PAYLOAD)
    assert delivery.outcome == SUCCESS and delivery.status == 200
    assert receiver.runs[LINK]["languages"] == ["en"]
    (request,) = receiver.requests
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"].startswith("SIG-HMAC-SHA256 ")


def test_signed_empty_list_checks_url_and_secret(receiver):
    assert client_for_url(receiver.url).check().ok
    assert receiver.runs == {}
    wrong = client_for_url(receiver.url, secret="not-the-secret").check()
    assert (wrong.outcome, wrong.status) == (PERMANENT, 401)
    assert "RICHIE_COURSE_RUN_SYNC_SECRETS" in wrong.describe()


def test_unknown_course_is_permanent_with_advice():
    from test_support.richie_receiver import RichieReceiver  # pylint: disable=import-outside-toplevel

    with RichieReceiver(secrets=(SECRET,), known_course_codes={"OTHER"}) as richie:
        delivery = client_for_url(richie.url).post(PAYLOAD)
    assert (delivery.outcome, delivery.status) == (PERMANENT, 400)
    assert "Unknown course: DEMO101." in delivery.detail
    assert "create the course in Richie" in delivery.hint


def test_invalid_language_is_permanent_with_advice(receiver):
    delivery = client_for_url(receiver.url).post({**PAYLOAD, "languages": ["en-us"]})
    assert (delivery.outcome, delivery.status) == (PERMANENT, 400)
    assert '"en-us" is not a valid choice.' in delivery.detail
    assert "LANGUAGE_MAPPING" in delivery.hint


def test_wrong_path_is_permanent_404(receiver):
    delivery = client_for_url(receiver.base_url + "/api/v1.0/course-run-sync").post(PAYLOAD)
    assert (delivery.outcome, delivery.status) == (PERMANENT, 404)
    assert "/api/v1.0/course-runs-sync" in delivery.hint


def test_redirect_is_reported_not_followed(receiver):
    delivery = client_for_url(receiver.base_url + "/api/v2.0/course-runs-sync").post(PAYLOAD)
    assert (delivery.outcome, delivery.status) == (PERMANENT, 302)
    assert "/en/api/v2.0/course-runs-sync/" in delivery.detail
    assert "API version 1.0" in delivery.hint
    assert [request.method for request in receiver.requests] == ["POST"]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient(receiver, status):
    receiver.fail_next(1, status=status)
    delivery = client_for_url(receiver.url).post(PAYLOAD)
    assert (delivery.outcome, delivery.status) == (TRANSIENT, status)
    assert LINK not in receiver.runs


def test_rate_limit_is_transient_with_retry_after(receiver):
    receiver.rate_limit_next(1, retry_after=7)
    delivery = client_for_url(receiver.url).post(PAYLOAD)
    assert (delivery.outcome, delivery.status, delivery.retry_after) == (TRANSIENT, 429, 7.0)


def test_timeout_is_transient(receiver):
    receiver.timeout_next(1, delay=1.0)
    delivery = client_for_url(receiver.url, timeout=0.2).post(PAYLOAD)
    assert delivery.outcome == TRANSIENT and delivery.status is None
    assert "timed out" in delivery.detail and "TIMEOUT" in delivery.hint


def test_dropped_connection_is_transient(receiver):
    receiver.drop_next(1)
    delivery = client_for_url(receiver.url).post(PAYLOAD)
    assert delivery.outcome == TRANSIENT and delivery.status is None
    assert "could not reach Richie" in delivery.detail


def test_unreachable_richie_is_transient():
    delivery = client_for_url("http://127.0.0.1:9/api/v1.0/course-runs-sync").post(PAYLOAD)
    assert delivery.outcome == TRANSIENT and "127.0.0.1:9" in delivery.hint


def test_connections_are_kept_alive(receiver):
    client = client_for_url(receiver.url)
    for _ in range(5):
        assert client.post(PAYLOAD).ok
    assert receiver.connections_opened == 1


def test_batch_answer_maps_items(receiver):
    other = LINK.replace("Demo101", "Demo102")
    delivery = client_for_url(receiver.url).post([PAYLOAD, {"resource_link": other, "languages": ["xx"]}])
    assert (delivery.outcome, delivery.status) == (PERMANENT, 400)
    assert delivery.items[LINK] == {"success": True}
    assert "languages" in delivery.items[other]
    assert LINK in receiver.runs and other not in receiver.runs


@pytest.mark.parametrize(
    "status, outcome",
    [(200, SUCCESS), (301, PERMANENT), (400, PERMANENT), (401, PERMANENT), (403, PERMANENT), (404, PERMANENT),
     (415, PERMANENT), (418, PERMANENT), (429, TRANSIENT), (500, TRANSIENT), (503, TRANSIENT)],
)
def test_classification_table(status, outcome):
    assert classify(status, {}, b"{}", sent=()).outcome == outcome  # {}: Richie's answer to the signed empty list


def test_403_hint_mentions_the_stripped_header():
    assert "Authorization header" in classify(403, {}, b'{"detail": "Missing authentication."}', sent=None).hint


def test_server_error_body_is_truncated():
    delivery = classify(500, {}, b"<html>" + b"x" * 5000 + b"</html>", sent=None)
    assert len(delivery.detail) <= 200


def test_retry_after_parsing():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_backoff_is_jittered_capped_and_honours_retry_after():
    rng = random.Random(1)
    delays = [backoff_delay(retries, base=2, cap=60, rng=rng) for retries in range(10)]
    assert all(0 <= delay <= min(60, 2 * 2**retries) for retries, delay in enumerate(delays))
    assert len(set(delays)) == len(delays)
    assert backoff_delay(0, base=2, cap=60, retry_after=30, rng=rng) == 30


def test_credentials_in_the_url_never_reach_messages(receiver):
    url = receiver.url.replace("http://", "http://operator:Pa55word@")
    instance = Instance(name="catalog", url=url, secret=SECRET, timeout=2.0)
    assert instance.safe_url == receiver.url
    down = Instance(name="down", url="http://operator:Pa55word@127.0.0.1:9/api/v1.0/course-runs-sync", secret=SECRET, timeout=1.0)
    delivery = RichieClient(down).post(PAYLOAD)
    assert delivery.outcome == TRANSIENT and "Pa55word" not in delivery.describe()
