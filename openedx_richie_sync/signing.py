"""
Serialize and sign payloads the way Richie checks them.

Richie signs the raw body bytes, so the bytes we sign must be the bytes we send: serialize once
here and hand those exact bytes to the HTTP layer (never let it re-serialize).
"""

import hashlib
import hmac
import json

SIGNATURE_SCHEME = "SIG-HMAC-SHA256"


def serialize(data):
    """
    Compact, key-sorted UTF-8 JSON: stable bytes, so that equal payloads hash equally.

    ``NaN`` and infinities raise ``ValueError`` (Python would write them, but they are not JSON
    and Richie would answer 400); values JSON cannot hold raise ``TypeError``.
    """
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def sign(body, secret):
    """The ``Authorization`` header value for ``body`` (bytes) with ``secret``."""
    digest = hmac.new(secret.encode("utf-8"), msg=body, digestmod=hashlib.sha256).hexdigest()
    return f"{SIGNATURE_SCHEME} {digest}"


def payload_hash(body):
    """A short fingerprint of a serialized payload, used to skip what Richie already has."""
    return hashlib.sha256(body).hexdigest()
