"""Signed delivery over real HTTP to the Richie-compatible receiver, and outcome classification."""

import json
import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from openedx_richie_sync.configuration import Instance
from openedx_richie_sync.data import DeliveryOutcome
from openedx_richie_sync.delivery import (
    RichieClient,
    answer_limit,
    backoff_delay,
    classify,
    format_answer,
    parse_retry_after,
)

from .helpers import SECRET

LINK = "https://lms.example.com/courses/course-v1:DemoX+Demo101+2026/info"
PAYLOAD = {"resource_link": LINK, "start": "2026-09-01T08:00:00Z", "languages": ["en"]}


def client_for_url(url, secret=SECRET, timeout=2.0):
    return RichieClient(Instance(name="catalog", url=url, secret=secret, timeout=timeout))


def test_accepted_payload_is_stored_and_signed_over_sent_bytes(receiver):
    delivery = client_for_url(receiver.url).post(PAYLOAD)
    assert delivery.outcome == DeliveryOutcome.SUCCESS and delivery.status == 200
    assert receiver.runs[LINK]["languages"] == ["en"]
    (request,) = receiver.requests
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"].startswith("SIG-HMAC-SHA256 ")


def test_signed_empty_list_checks_url_and_secret(receiver):
    assert client_for_url(receiver.url).check().ok
    assert receiver.runs == {}
    wrong = client_for_url(receiver.url, secret="not-the-secret").check()
    assert (wrong.outcome, wrong.status) == (DeliveryOutcome.PERMANENT, 401)
    assert "RICHIE_COURSE_RUN_SYNC_SECRETS" in wrong.describe()


def test_unknown_course_is_permanent_with_advice():
    from test_support.richie_receiver import RichieReceiver  # pylint: disable=import-outside-toplevel

    with RichieReceiver(secrets=(SECRET,), known_course_codes={"OTHER"}) as richie:
        delivery = client_for_url(richie.url).post(PAYLOAD)
    assert (delivery.outcome, delivery.status) == (DeliveryOutcome.PERMANENT, 400)
    assert "Unknown course: DEMO101." in delivery.detail
    assert "create the course in Richie" in delivery.hint


def test_invalid_language_is_permanent_with_advice(receiver):
    delivery = client_for_url(receiver.url).post({**PAYLOAD, "languages": ["en-us"]})
    assert (delivery.outcome, delivery.status) == (DeliveryOutcome.PERMANENT, 400)
    assert '"en-us" is not a valid choice.' in delivery.detail
    assert "LANGUAGE_MAPPING" in delivery.hint


def test_wrong_path_is_permanent_404(receiver):
    delivery = client_for_url(receiver.base_url + "/api/v1.0/course-run-sync").post(PAYLOAD)
    assert (delivery.outcome, delivery.status) == (DeliveryOutcome.PERMANENT, 404)
    assert "/api/v1.0/course-runs-sync" in delivery.hint


def test_redirect_is_reported_not_followed(receiver):
    delivery = client_for_url(receiver.base_url + "/api/v2.0/course-runs-sync").post(PAYLOAD)
    assert (delivery.outcome, delivery.status) == (DeliveryOutcome.PERMANENT, 302)
    assert "/en/api/v2.0/course-runs-sync/" in delivery.detail
    assert "API version 1.0" in delivery.hint
    assert [request.method for request in receiver.requests] == ["POST"]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient(receiver, status):
    receiver.fail_next(1, status=status)
    delivery = client_for_url(receiver.url).post(PAYLOAD)
    assert (delivery.outcome, delivery.status) == (DeliveryOutcome.TRANSIENT, status)
    assert LINK not in receiver.runs


def test_rate_limit_is_transient_with_retry_after(receiver):
    receiver.rate_limit_next(1, retry_after=7)
    delivery = client_for_url(receiver.url).post(PAYLOAD)
    assert (delivery.outcome, delivery.status, delivery.retry_after) == (DeliveryOutcome.TRANSIENT, 429, 7.0)


def test_timeout_is_transient(receiver):
    receiver.timeout_next(1, delay=1.0)
    delivery = client_for_url(receiver.url, timeout=0.2).post(PAYLOAD)
    assert delivery.outcome == DeliveryOutcome.TRANSIENT and delivery.status is None
    assert "timed out" in delivery.detail and "TIMEOUT" in delivery.hint


def test_dropped_connection_is_transient(receiver):
    receiver.drop_next(1)
    delivery = client_for_url(receiver.url).post(PAYLOAD)
    assert delivery.outcome == DeliveryOutcome.TRANSIENT and delivery.status is None
    assert "could not reach Richie" in delivery.detail


def test_unreachable_richie_is_transient():
    delivery = client_for_url("http://127.0.0.1:9/api/v1.0/course-runs-sync").post(PAYLOAD)
    assert delivery.outcome == DeliveryOutcome.TRANSIENT and "127.0.0.1:9" in delivery.hint


def test_connections_are_kept_alive(receiver):
    client = client_for_url(receiver.url)
    for _ in range(5):
        assert client.post(PAYLOAD).ok
    assert receiver.connections_opened == 1


def test_batch_answer_maps_items(receiver):
    other = LINK.replace("Demo101", "Demo102")
    delivery = client_for_url(receiver.url).post([PAYLOAD, {"resource_link": other, "languages": ["xx"]}])
    assert (delivery.outcome, delivery.status) == (DeliveryOutcome.PERMANENT, 400)
    assert delivery.items[LINK] == {"success": True}
    assert "languages" in delivery.items[other]
    assert LINK in receiver.runs and other not in receiver.runs


@pytest.mark.parametrize(
    "status, outcome",
    [
        (200, DeliveryOutcome.SUCCESS),
        (301, DeliveryOutcome.PERMANENT),
        (400, DeliveryOutcome.PERMANENT),
        (401, DeliveryOutcome.PERMANENT),
        (403, DeliveryOutcome.PERMANENT),
        (404, DeliveryOutcome.PERMANENT),
        (415, DeliveryOutcome.PERMANENT),
        (418, DeliveryOutcome.PERMANENT),
        (429, DeliveryOutcome.TRANSIENT),
        (500, DeliveryOutcome.TRANSIENT),
        (503, DeliveryOutcome.TRANSIENT),
    ],
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
    down = Instance(
        name="down", url="http://operator:Pa55word@127.0.0.1:9/api/v1.0/course-runs-sync", secret=SECRET, timeout=1.0
    )
    delivery = RichieClient(down).post(PAYLOAD)
    assert delivery.outcome == DeliveryOutcome.TRANSIENT and "Pa55word" not in delivery.describe()


# --- hostile answers, judged without the network ----------------------------------------------------


@pytest.mark.parametrize(
    "status, body, sent, outcome",
    [
        (200, b'{"success": true}', None, DeliveryOutcome.SUCCESS),
        (200, b'{"success":true}', None, DeliveryOutcome.SUCCESS),
        (200, b'{"success": 1}', None, DeliveryOutcome.TRANSIENT),
        (200, b'{"success": "true"}', None, DeliveryOutcome.TRANSIENT),
        (200, b'{"success": true, "also": 1}', None, DeliveryOutcome.TRANSIENT),
        (201, b'{"success": true}', None, DeliveryOutcome.TRANSIENT),
        (204, b"", None, DeliveryOutcome.TRANSIENT),
        (200, b"<html>Maintenance</html>", None, DeliveryOutcome.TRANSIENT),
        (200, b"{}", None, DeliveryOutcome.TRANSIENT),
        (200, b"{}", (), DeliveryOutcome.SUCCESS),
        (200, b'{"success": true}', (), DeliveryOutcome.TRANSIENT),
        (200, b"[]", (), DeliveryOutcome.TRANSIENT),
        (200, b"{}", (LINK,), DeliveryOutcome.TRANSIENT),
        (200, b"[]", (LINK,), DeliveryOutcome.TRANSIENT),
        (200, b'{"success": true}', (LINK,), DeliveryOutcome.TRANSIENT),
        (200, ('{"%s": {"success": true}}' % LINK).encode(), (LINK,), DeliveryOutcome.SUCCESS),
        (200, ('{"%s": {"success": false}}' % LINK).encode(), (LINK,), DeliveryOutcome.TRANSIENT),
    ],
)
def test_success_only_in_richies_exact_answers(status, body, sent, outcome):
    delivery = classify(status, {}, body, "https://richie.example/api/v1.0/course-runs-sync", sent=sent)
    assert delivery.outcome == outcome
    if outcome == DeliveryOutcome.TRANSIENT:
        assert "not as Richie does" in delivery.detail
        assert "https://richie.example/api/v1.0/course-runs-sync" in delivery.hint


def test_a_batch_answer_counts_each_run_only_on_exact_success():
    from openedx_richie_sync.delivery import run_outcome  # pylint: disable=import-outside-toplevel

    other, third = LINK.replace("Demo101", "Demo102"), LINK.replace("Demo101", "Demo103")
    body = json.dumps({LINK: {"success": True}, other: {"languages": ['"xx" is not a valid choice.']}})
    delivery = classify(400, {}, body, sent=(LINK, other, third))
    assert run_outcome(delivery, LINK).ok
    assert (
        run_outcome(delivery, other).outcome == DeliveryOutcome.PERMANENT
        and "LANGUAGE_MAPPING" in run_outcome(delivery, other).hint
    )
    assert run_outcome(delivery, third).outcome == DeliveryOutcome.TRANSIENT  # left out: not applied as far as we know


@pytest.mark.parametrize(
    "value", ["86400", "1e12", "1e400", "inf", "-inf", "nan", "-5", "", "   ", "soon", "9" * 5000,
              "Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 2024 00:00:00 -0000", "Mon, 99 Foo 2026 99:99:99 GMT",
              "Tue, 01 Jan 0001 00:00:00 GMT", None, b"12", 12],
)
def test_retry_after_never_raises_and_every_delay_is_capped(value):
    seconds = parse_retry_after(value)
    assert seconds is None or (0 <= seconds < float("inf"))
    for retries in (0, 3, 64, 5000):
        assert 0 <= backoff_delay(retries, base=5, cap=600, retry_after=seconds) <= 600


def test_retry_after_forms():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after("86400") == 86400.0  # parsed as sent; callers cap it
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("inf") is None and parse_retry_after("nan") is None
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 -0000", now=now) == 60.0  # naive date: UTC
    assert backoff_delay(0, base=2, cap=60, retry_after=86400) == 60


def _nested(depth):
    data = {}
    for _ in range(depth):
        data = {"detail": data}
    return data


@pytest.mark.parametrize("depth", [900, 100_000])
def test_deeply_nested_answers_never_raise(depth):
    body = b'{"detail":' * depth + b"{}" + b"}" * depth
    for status in (200, 400, 500):
        delivery = classify(status, {}, body, sent=None)
        assert delivery.outcome != DeliveryOutcome.SUCCESS and delivery.describe()
    assert format_answer(_nested(900)).endswith("…")


def test_answer_size_bounds():
    assert answer_limit(None) == answer_limit(()) == 64 * 1024
    assert 64 * 1024 < answer_limit((LINK,) * 100) <= 1024 * 1024
    assert answer_limit((LINK,) * 100_000) == 1024 * 1024


def test_413_hints_depend_on_what_was_sent():
    assert "--batch-size" in classify(413, {}, b"<html>413</html>", sent=(LINK, LINK + "/")).hint
    single = classify(413, {}, b"<html>413</html>", sent=None)
    assert single.outcome == DeliveryOutcome.PERMANENT and "too large for the server's body size limit" in single.hint


def test_a_missing_ca_bundle_is_a_permanent_failure_that_names_it():
    instance = Instance(
        name="private-ca",
        url="https://127.0.0.1:1/api/v1.0/course-runs-sync",
        secret="s",
        verify_tls="/nonexistent/ca.pem",
    )
    delivery = RichieClient(instance).post_body(b"[]", sent=())
    assert (
        delivery.outcome == DeliveryOutcome.PERMANENT
        and "'/nonexistent/ca.pem', which is not a file" in delivery.detail
    )
    assert "richie_sync.E017" in delivery.hint
