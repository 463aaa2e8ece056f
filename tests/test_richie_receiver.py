"""
Checks that the fake Richie receiver behaves like Richie's course-run sync endpoint (docs/richie.md).

These tests talk to a started receiver over real HTTP; they need no Django settings.
"""

# pylint: disable=redefined-outer-name  # pytest passes fixtures by name

import gzip
import hashlib
import hmac
import json
import os
import socket
import sys
import time
import zlib

import pytest
import requests

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from test_support.richie_receiver import (  # noqa: E402  # pylint: disable=wrong-import-position
    LANGUAGE_CODES,
    NON_RICHIE_ANSWERS,
    SYNC_PATH,
    RichieReceiver,
    normalize_code,
    sign,
)

SECRET = "peer-secret-1"
LMS = "https://lms.example.com"


def link(key="course-v1:edX+DemoX+2026", suffix="/info"):
    return f"{LMS}/courses/{key}{suffix}"


def signature(body: bytes, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"SIG-HMAC-SHA256 {digest}"


def post(url, payload=None, *, body=None, secret=SECRET, session=None, headers=None, **kwargs):
    """POST ``payload`` serialized once, signed, sent as those exact bytes."""
    if body is None:
        body = json.dumps(payload).encode()
    all_headers = {"Content-Type": "application/json"}
    if secret is not None:
        all_headers["Authorization"] = signature(body, secret)
    all_headers.update(headers or {})
    sender = session or requests
    kwargs.setdefault("timeout", 5)
    return sender.post(url, data=body, headers=all_headers, **kwargs)


def run_item(resource_link=None, **fields):
    """One course run of a sync request, with ``fields`` changed."""
    item = {
        "resource_link": resource_link or link(),
        "start": "2026-02-01T06:00:00Z",
        "end": "2026-03-01T06:00:00+00:00",
        "enrollment_start": "2026-01-01T06:00:00Z",
        "enrollment_end": "2026-01-31T06:00:00Z",
        "languages": ["en", "fr"],
        "enrollment_count": 3,
        "catalog_visibility": "course_and_search",
    }
    item.update(fields)
    return item


@pytest.fixture
def receiver():
    with RichieReceiver(secrets=(SECRET,)) as server:
        yield server


# --- signature and protocol errors --------------------------------------------------------


def test_signature_test_vector():
    expected = "SIG-HMAC-SHA256 3ce782feb6992404ddf846f19b5da80fc7186f50f49ae3f6f27ce6d9f86e370b"
    assert signature(b"[]", "peer-secret-1") == expected
    assert sign(b"[]", "peer-secret-1") == expected


def test_signed_empty_list_is_a_safe_connection_test(receiver):
    response = post(receiver.url, body=b"[]")
    assert response.status_code == 200
    assert response.json() == {}
    assert receiver.runs == {} and receiver.applied == []
    recorded = receiver.requests[-1]
    assert recorded.status == 200
    assert recorded.headers["authorization"] == signature(b"[]")
    assert recorded.body == b"[]"


def test_missing_or_empty_authorization_is_403(receiver):
    for secret_headers in ({}, {"Authorization": ""}):
        response = requests.post(
            receiver.url, data=b"[]", headers={"Content-Type": "application/json", **secret_headers}, timeout=10
        )
        assert response.status_code == 403
        assert response.json() == "Missing authentication."


def test_wrong_signature_is_401_and_checked_before_json_parsing(receiver):
    assert post(receiver.url, body=b"[]", secret="other").status_code == 401
    # signing one serialization and sending another
    payload = run_item()
    sent = json.dumps(payload, indent=2).encode()
    response = post(receiver.url, body=sent, headers={"Authorization": signature(json.dumps(payload).encode())})
    assert response.status_code == 401
    assert response.json() == "Invalid authentication."
    # not JSON at all, badly signed: still 401, not 400
    assert post(receiver.url, body=b"{not json", secret="other").status_code == 401
    assert receiver.runs == {}


def test_secret_rotation(receiver):
    receiver.set_secrets("new-secret", SECRET)
    assert post(receiver.url, body=b"[]", secret="new-secret").status_code == 200
    assert post(receiver.url, body=b"[]", secret=SECRET).status_code == 200
    receiver.set_secrets("new-secret")
    assert post(receiver.url, body=b"[]", secret=SECRET).status_code == 401


def test_content_type_must_be_json(receiver):
    response = post(receiver.url, body=b"[]", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["detail"].startswith("Unsupported media type")
    ok = post(receiver.url, body=b"[]", headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 200


def test_bad_json_is_400(receiver):
    response = post(receiver.url, body=b"{not json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error - ")


def test_paths(receiver):
    assert post(receiver.url + "/", body=b"[]").status_code == 200
    other = post(receiver.base_url + "/api/v2.0/course-runs-sync", body=b"[]", allow_redirects=False)
    assert other.status_code == 302
    assert other.headers["Location"] == "/en/api/v2.0/course-runs-sync/"
    assert other.content == b""
    missing = post(receiver.base_url + "/api/v1.0/course-runs", body=b"[]")
    assert missing.status_code == 404
    assert missing.headers["Content-Type"].startswith("text/html")
    get = requests.get(receiver.url, timeout=5)
    assert get.status_code == 404 and "<html" in get.text


# --- single items ---------------------------------------------------------------------------


def test_single_create_then_partial_update(receiver):
    item = run_item(price=49.9, price_currency="EUR", offer="paid", unknown_key="ignored")
    response = post(receiver.url, item)
    assert response.status_code == 200
    assert response.json() == {"success": True}
    stored = receiver.runs[item["resource_link"]]
    assert stored["languages"] == ["en", "fr"]
    assert stored["start"] == "2026-02-01T06:00:00Z"
    assert stored["price"] == "49.90"
    assert "unknown_key" not in stored
    assert receiver.applied == [item]

    update = {"resource_link": item["resource_link"], "enrollment_count": 10, "end": None,
              "catalog_visibility": "about"}
    assert post(receiver.url, update).json() == {"success": True}
    stored = receiver.runs[item["resource_link"]]
    assert stored["enrollment_count"] == 10
    assert stored["end"] is None
    assert stored["catalog_visibility"] == "course_only"
    assert stored["languages"] == ["en", "fr"]  # omitted: kept
    assert stored["start"] == "2026-02-01T06:00:00Z"
    assert len(receiver.applied) == 2


def test_identity_is_the_exact_resource_link(receiver):
    assert post(receiver.url, run_item(link(suffix="/info"))).status_code == 200
    assert post(receiver.url, run_item(link(suffix="/info/"))).status_code == 200
    assert len(receiver.runs) == 2
    too_long = link(key="course-v1:edX+DemoX+" + "x" * 200)
    response = post(receiver.url, run_item(too_long))
    assert response.status_code == 400
    assert response.json() == {"resource_link": ["Ensure this field has no more than 200 characters."]}


def test_unknown_course():
    with RichieReceiver(known_course_codes={"DemoX"}) as server:
        assert post(server.url, run_item(link("course-v1:edX+DemoX+2026"))).status_code == 200
        response = post(server.url, run_item(link("course-v1:edX+Other1+2026")))
        assert response.status_code == 400
        assert response.json() == {"resource_link": ["Unknown course: OTHER1."]}
        assert len(server.runs) == 1
        server.add_known_courses("other1")  # Richie compares normalized codes
        assert post(server.url, run_item(link("course-v1:edX+Other1+2026"))).status_code == 200
    assert normalize_code("Demo.X 1") == "DEMOX-1"


def test_no_lms_configuration(receiver):
    response = post(receiver.url, run_item("https://lms.example.com/courses/course-v1:edX+DemoX+2026/about"))
    assert response.status_code == 400
    assert response.json() == {"resource_link": ["No LMS configuration found for this resource link."]}
    assert receiver.runs == {}
    # Like Richie's split_course_key, an old-style ORG/CODE/RUN key that the regex captures is read too.
    assert post(receiver.url, run_item("https://lms.example.com/courses/edX/DemoX/2026/info")).status_code == 200


def test_missing_resource_link(receiver):
    response = post(receiver.url, {"languages": ["en"]})
    assert response.status_code == 400
    assert response.json() == {"resource_link": ["This field is required."]}


def test_languages_required_and_validated(receiver):
    item = run_item()
    del item["languages"]
    response = post(receiver.url, item)
    assert response.status_code == 400
    assert response.json() == {"languages": ["This field is required."]}
    for code in ("en-us", "EN", "pt-BR", "en_US", "zh-cn"):
        response = post(receiver.url, run_item(languages=["fr", code]))
        assert response.status_code == 400
        assert response.json() == {"languages": [f'"{code}" is not a valid choice.']}
    assert receiver.runs == {}
    assert {"pt-br", "zh-hans", "es", "fr"} <= LANGUAGE_CODES
    assert post(receiver.url, run_item(languages=["pt-br", "zh-hans"])).status_code == 200


def test_field_validation_messages(receiver):
    response = post(receiver.url, run_item(
        start="", end="not a date", catalog_visibility=None, enrollment_count=-1,
        price="1234567.891", offer="gratis", certificate_offer="partially_free",
        price_currency="EURO-EUR", discount="x" * 21,
    ))
    assert response.status_code == 400
    assert response.json() == {
        "start": ["Datetime has wrong format. Use one of these formats instead: "
                  "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."],
        "end": ["Datetime has wrong format. Use one of these formats instead: "
                "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."],
        "enrollment_count": ["Ensure this value is greater than or equal to 0."],
        "catalog_visibility": ["This field may not be null."],
        "price": ["Ensure that there are no more than 9 digits in total."],
        "price_currency": ["Ensure this field has no more than 7 characters."],
        "offer": ['"gratis" is not a valid choice.'],
        "certificate_offer": ['"partially_free" is not a valid choice.'],
        "discount": ["Ensure this field has no more than 20 characters."],
    }
    assert post(receiver.url, run_item(enrollment_count=None)).json() == {
        "enrollment_count": ["This field may not be null."]}
    assert post(receiver.url, run_item(enrollment_count=True)).status_code == 400
    assert post(receiver.url, run_item(catalog_visibility="Both")).json() == {
        "catalog_visibility": ['"Both" is not a valid choice.']}
    assert receiver.runs == {}


def test_naive_dates_are_accepted_but_recorded(receiver):
    item = run_item(start="2026-02-01T06:00:00")
    assert post(receiver.url, item).status_code == 200
    assert receiver.naive_dates == {item["resource_link"]}
    other = run_item(link("course-v1:edX+DemoX+2027"))
    assert post(receiver.url, other).status_code == 200
    assert other["resource_link"] not in receiver.naive_dates


def test_empty_languages_corrupts_the_course_until_repaired(receiver):
    first, second = link("course-v1:edX+DemoX+R1"), link("course-v1:edX+DemoX+R2")
    elsewhere = link("course-v1:edX+Other+R1")
    assert post(receiver.url, run_item(first)).status_code == 200
    assert post(receiver.url, run_item(elsewhere)).status_code == 200

    broken = post(receiver.url, {"resource_link": first, "languages": []})
    assert broken.status_code == 500
    assert broken.headers["Content-Type"].startswith("text/html")
    assert receiver.runs[first]["languages"] == []  # stored anyway

    # every later sync touching that course answers 500...
    assert post(receiver.url, run_item(second)).status_code == 500
    assert post(receiver.url, {"resource_link": first, "enrollment_count": 4}).status_code == 500
    # ...but other courses are fine
    assert post(receiver.url, {"resource_link": elsewhere, "enrollment_count": 5}).status_code == 200

    repaired = post(receiver.url, {"resource_link": first, "languages": ["fr"]})
    assert repaired.status_code == 200 and repaired.json() == {"success": True}
    assert receiver.runs[first]["languages"] == ["fr"]
    assert post(receiver.url, {"resource_link": second, "enrollment_count": 1}).status_code == 200


# --- batches --------------------------------------------------------------------------------


def test_batch_with_one_bad_item_applies_the_good_ones(receiver):
    good1, bad, good2 = (link(f"course-v1:edX+DemoX+B{i}") for i in range(3))
    batch = [run_item(good1), run_item(bad, languages=["en-us"]), run_item(good2)]
    response = post(receiver.url, batch)
    assert response.status_code == 400
    assert response.json() == {
        good1: {"success": True},
        bad: {"languages": ['"en-us" is not a valid choice.']},
        good2: {"success": True},
    }
    assert set(receiver.runs) == {good1, good2}
    assert [item["resource_link"] for item in receiver.applied] == [good1, good2]

    all_good = post(receiver.url, [{"resource_link": good1, "enrollment_count": 9}])
    assert all_good.status_code == 200
    assert all_good.json() == {good1: {"success": True}}


def test_batch_item_without_resource_link_rejects_everything(receiver):
    batch = [run_item(link("course-v1:edX+DemoX+C1")), {"languages": ["en"]}]
    response = post(receiver.url, batch)
    assert response.status_code == 400
    assert response.json() == {"resource_link": ["This field is required."]}
    assert post(receiver.url, [run_item(), "not a dict"]).status_code == 400
    assert receiver.runs == {} and receiver.applied == []


def test_batch_unexpected_error_keeps_earlier_items(receiver):
    before, corrupt, after = (link(f"course-v1:edX+Code{i}+R") for i in range(3))
    batch = [run_item(before), run_item(corrupt, languages=[]), run_item(after)]
    response = post(receiver.url, batch)
    assert response.status_code == 500
    assert "<html" in response.text
    assert before in receiver.runs and corrupt in receiver.runs
    assert after not in receiver.runs


def test_manual_run_is_left_unchanged(receiver):
    resource_link = link()
    assert post(receiver.url, run_item(resource_link, enrollment_count=1)).status_code == 200
    receiver.set_manual(resource_link)
    response = post(receiver.url, {"resource_link": resource_link, "enrollment_count": 99})
    assert response.status_code == 200 and response.json() == {"success": True}
    assert receiver.runs[resource_link]["enrollment_count"] == 1
    assert len(receiver.applied) == 1


# --- fault injection ------------------------------------------------------------------------


def test_fail_next_then_success(receiver):
    receiver.fail_next(2, status=502)
    for _ in range(2):
        response = post(receiver.url, run_item())
        assert response.status_code == 502
        assert response.headers["Content-Type"].startswith("text/html")
        with pytest.raises(ValueError):
            response.json()
    assert receiver.runs == {}
    assert post(receiver.url, run_item()).status_code == 200
    assert [r.status for r in receiver.requests] == [502, 502, 200]
    assert [r.fault for r in receiver.requests] == ["fail", "fail", None]


def test_drop_next_is_a_connection_error(receiver):
    receiver.drop_next(1)
    with pytest.raises(requests.ConnectionError):
        post(receiver.url, run_item())
    assert receiver.runs == {}
    assert receiver.requests[-1].status is None
    assert receiver.requests[-1].fault == "drop"
    assert post(receiver.url, run_item()).status_code == 200


def test_timeout_next_makes_the_client_time_out_but_is_applied_later(receiver):
    receiver.timeout_next(1, delay=0.6)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        post(receiver.url, run_item(), timeout=0.2)
    assert time.monotonic() - started < 0.55
    assert receiver.wait_for(lambda r: link() in r.runs, timeout=3)
    assert receiver.requests[-1].fault == "timeout"
    assert receiver.requests[-1].status == 200


def test_rate_limit_next_has_retry_after(receiver):
    receiver.rate_limit_next(1, retry_after=7)
    response = post(receiver.url, run_item())
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert receiver.runs == {}
    assert post(receiver.url, run_item()).status_code == 200


def test_redirect_next(receiver):
    receiver.redirect_next(1)
    response = post(receiver.url, run_item(), allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/en" + SYNC_PATH
    receiver.redirect_next(1, location="https://elsewhere.example/", status=301)
    response = post(receiver.url, run_item(), allow_redirects=False)
    assert response.status_code == 301
    assert response.headers["Location"] == "https://elsewhere.example/"
    assert receiver.runs == {}


def test_reset_clears_state_and_faults(receiver):
    post(receiver.url, run_item())
    receiver.set_manual(link("course-v1:edX+DemoX+M"))
    receiver.fail_next(3)
    receiver.reset()
    assert receiver.runs == {} and receiver.requests == [] and receiver.applied == []
    assert receiver.manual == set() and receiver.pending_faults == 0
    assert post(receiver.url, body=b"[]").status_code == 200


# --- HTTP plumbing --------------------------------------------------------------------------


def test_keep_alive_reuses_the_connection(receiver):
    with requests.Session() as session:
        assert post(receiver.url, body=b"[]", session=session).status_code == 200
        assert post(receiver.url, run_item(), session=session).status_code == 200
    first, second = receiver.requests
    assert first.connection_id == second.connection_id
    assert first.client_port == second.client_port
    assert receiver.connections_opened == 1


def test_wait_for_and_stop():
    server = RichieReceiver().start()
    assert server.wait_for(lambda r: len(r.requests) == 1, timeout=0.1) is False
    post(server.url, body=b"[]")
    assert server.wait_for(lambda r: len(r.requests) == 1, timeout=1)
    url = server.url
    with requests.Session() as session:
        post(url, body=b"[]", session=session)  # an idle keep-alive connection stays open
        server.stop()
        with pytest.raises(requests.ConnectionError):
            post(url, body=b"[]", session=session, timeout=2)


# --- hostile peers ----------------------------------------------------------------------------


@pytest.mark.parametrize("answer, body", [
    ("ok", b"OK"), ("list", b"[]"), ("empty", b"{}"), ("false", b'{"success":false}'),
])
def test_non_richie_next_answers_200_with_what_richie_never_sends(receiver, answer, body):
    receiver.non_richie_next(1, answer)
    response = post(receiver.url, run_item())
    assert (response.status_code, response.content) == (200, body)
    assert receiver.runs == {} and receiver.requests[-1].fault == "answer"
    assert post(receiver.url, run_item()).json() == {"success": True}


def test_non_richie_next_html_maintenance_page(receiver):
    receiver.non_richie_next(1, "html")
    response = post(receiver.url, run_item())
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert b"maintenance" in response.content and set(NON_RICHIE_ANSWERS) == {"html", "ok", "list", "empty", "false"}


def test_answer_next_sends_exactly_what_it_is_told(receiver):
    receiver.answer_next(1, "teapot", status=418, content_type="text/plain", headers={"X-Why": "test"})
    response = post(receiver.url, body=b"[]")
    assert (response.status_code, response.text, response.headers["X-Why"]) == (418, "teapot", "test")


def test_partial_next_applies_the_batch_but_leaves_links_out(receiver):
    links = [link(f"course-v1:edX+DemoX+P{i}") for i in range(3)]
    receiver.partial_next(1, leave_out=2)
    response = post(receiver.url, [run_item(resource_link) for resource_link in links])
    assert response.status_code == 200 and response.json() == {links[0]: {"success": True}}
    assert set(receiver.runs) == set(links)  # all applied


def test_drip_next_sends_the_answer_slowly(receiver):
    receiver.drip_next(1, bytes_per_second=40)  # {"success":true}: 16 bytes, 4 at a time
    response = post(receiver.url, run_item())
    assert response.json() == {"success": True} and link() in receiver.runs
    assert receiver.requests[-1].fault == "drip"
    with pytest.raises(requests.Timeout):  # each byte comes in time, the whole does not: only a deadline helps
        receiver.drip_next(1, bytes_per_second=2, headers_too=True)
        post(receiver.url, run_item(), timeout=0.2)


def test_huge_next_answers_a_body_of_the_given_size(receiver):
    receiver.huge_next(1, size=3 * 1024 * 1024 + 7)
    response = post(receiver.url, run_item())
    assert response.status_code == 200 and len(response.content) == 3 * 1024 * 1024 + 7
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert receiver.runs == {} and len(receiver.requests[-1].response_body) == 64 * 1024


def test_endless_next_never_ends_its_chunked_answer(receiver):
    receiver.endless_next(1)
    response = post(receiver.url, run_item(), stream=True)
    assert response.headers["Transfer-Encoding"] == "chunked"
    received = 0
    for chunk in response.iter_content(65536):
        received += len(chunk)
        if received > 4 * 1024 * 1024:
            break
    response.close()
    assert received > 4 * 1024 * 1024 and receiver.runs == {}


def test_gzip_next_compresses_richies_answer(receiver):
    receiver.gzip_next(1)
    response = post(receiver.url, run_item(), stream=True)
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.raw.read(decode_content=False)) == b'{"success":true}'
    assert link() in receiver.runs


def test_gzip_next_bomb_inflates_to_the_given_size(receiver):
    receiver.gzip_next(1, bomb_size=20 * 1024 * 1024)
    response = post(receiver.url, run_item(), stream=True)
    compressed = response.raw.read(decode_content=False)
    assert len(compressed) < 100 * 1024 and response.headers["Content-Encoding"] == "gzip"
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert len(inflater.decompress(compressed, 1024)) == 1024 and inflater.unconsumed_tail  # far more to come
    assert receiver.runs == {}


@pytest.mark.parametrize("value", ["86400", "Fri, 31 Dec 9999 23:59:59 GMT", "1e12", "inf", "nan", "-5", "garbage"])
def test_retry_after_next_sends_any_value(receiver, value):
    receiver.retry_after_next(1, value)
    response = post(receiver.url, run_item())
    assert (response.status_code, response.headers["Retry-After"]) == (429, value)
    receiver.retry_after_next(1, value, status=503)
    response = post(receiver.url, run_item())
    assert (response.status_code, response.headers["Retry-After"]) == (503, value)
    assert receiver.runs == {}


def test_deep_json_next_nests_the_answer(receiver):
    receiver.deep_json_next(1, depth=900, status=400)
    response = post(receiver.url, run_item())
    assert response.status_code == 400
    assert response.content.startswith(b'{"detail":{"detail":') and response.content.count(b"{") == 900


def test_body_limit_answers_413_like_nginx(receiver):
    receiver.set_body_limit(100)
    response = post(receiver.url, run_item())
    assert response.status_code == 413 and "Too Large" in response.text
    assert post(receiver.url, body=b"[]").status_code == 200
    assert receiver.runs == {}
    receiver.set_body_limit(None)
    assert post(receiver.url, run_item()).status_code == 200


def test_stop_ends_a_streaming_answer(receiver):
    receiver.endless_next(1)
    response = post(receiver.url, run_item(), stream=True)
    receiver.stop()
    with pytest.raises((requests.RequestException, socket.error)):
        for _ in response.iter_content(65536):
            pass
