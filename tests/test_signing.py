"""Signing: the exact bytes sent are the bytes signed (the test vector of docs/richie.md)."""

import hashlib
import hmac

from openedx_richie_sync.signing import payload_hash, serialize, sign


def test_facts_test_vector():
    assert serialize([]) == b"[]"
    assert sign(b"[]", "peer-secret-1") == (
        "SIG-HMAC-SHA256 3ce782feb6992404ddf846f19b5da80fc7186f50f49ae3f6f27ce6d9f86e370b"
    )


def test_serialization_is_stable_and_utf8():
    first = serialize({"b": 1, "a": "Écoles ☃"})
    assert first == serialize({"a": "Écoles ☃", "b": 1})
    assert first == '{"a":"Écoles ☃","b":1}'.encode("utf-8")
    assert payload_hash(first) == payload_hash(serialize({"a": "Écoles ☃", "b": 1}))


def test_signature_is_hmac_of_the_raw_bytes():
    body = serialize({"resource_link": "https://lms/courses/course-v1:A+B+C/info", "languages": ["fr"]})
    expected = hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert sign(body, "k") == f"SIG-HMAC-SHA256 {expected}"
    assert sign(body + b" ", "k") != sign(body, "k")
