"""
A loopback HTTP server that behaves like Richie 3.5.1's course-run sync endpoint.

Used by the integration tests, the demo and the benchmark. It imitates what was observed on a
real Richie 3.5.1 (see ``docs/richie.md``): signature check, validation messages, batch
semantics, partial updates, the ``languages: []`` corruption, plus fault-injection knobs (5xx,
timeouts, dropped connections, 429, redirects) and hostile peers: answers Richie never gives
under a 2xx status (maintenance pages, ``OK``, ``[]``, ``{}``, ``{"success": false}``, a batch
answer leaving links out), answers dripped byte by byte, huge or endless bodies, gzip bombs,
extreme ``Retry-After`` values, deeply nested JSON and a body size limit answering 413.

Standard library only (plus ``django.conf.global_settings`` for the language codes, exactly
the list Richie validates against; no Django setup is needed).

Run it in the foreground for a demo::

    python -m test_support.richie_receiver --port 8765 --secret S [--secret S2] [--known-course CODE ...]

Every accepted (applied) item is printed on stdout as one JSON line.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import decimal
import gzip
import hashlib
import hmac
import json
import re
import socket
import socketserver
import sys
import threading
import time
import unicodedata
import zlib
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import urlsplit

from django.conf import global_settings

__all__ = [
    "SYNC_PATH",
    "DEFAULT_COURSE_REGEX",
    "LANGUAGE_CODES",
    "RecordedRequest",
    "RichieReceiver",
    "sign",
    "normalize_code",
    "main",
]

SYNC_PATH = "/api/v1.0/course-runs-sync"
DEFAULT_COURSE_REGEX = r"^.*/courses/(?P<course_id>.*)/info/?$"

#: Language codes accepted by Richie: the installed Django's ``global_settings.LANGUAGES``.
LANGUAGE_CODES = frozenset(code for code, _name in global_settings.LANGUAGES)

SIGNATURE_PREFIX = "SIG-HMAC-SHA256 "
RESOURCE_LINK_MAX_LENGTH = 200

DATE_FIELDS = ("start", "end", "enrollment_start", "enrollment_end")
DECIMAL_FIELDS = ("price", "certificate_price", "discounted_price", "certificate_discounted_price")
#: Every field Richie reads, in its serializer's order (the order of keys in error dicts).
FIELDS = (
    "resource_link",
    "start",
    "end",
    "enrollment_start",
    "enrollment_end",
    "languages",
    "enrollment_count",
    "catalog_visibility",
    "price",
    "price_currency",
    "offer",
    "certificate_price",
    "certificate_offer",
    "discounted_price",
    "discount",
    "certificate_discounted_price",
    "certificate_discount",
)

CATALOG_VISIBILITY_CHOICES = frozenset({"course_and_search", "course_only", "hidden"})
#: Richie's Open edX backend maps the LMS values to its own before validation.
OPENEDX_CATALOG_VISIBILITY_MAP = {"both": "course_and_search", "about": "course_only", "none": "hidden"}
OFFER_CHOICES = frozenset({"free", "partially_free", "subscription", "paid"})
CERTIFICATE_OFFER_CHOICES = frozenset({"free", "subscription", "paid"})
ENROLLMENT_COUNT_MAX = 2147483647  # PositiveIntegerField

MSG_REQUIRED = "This field is required."
MSG_NULL = "This field may not be null."
MSG_BLANK = "This field may not be blank."
MSG_NOT_STRING = "Not a valid string."
MSG_DATETIME = (
    "Datetime has wrong format. Use one of these formats instead: "
    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)
MSG_INTEGER = "A valid integer is required."
MSG_NUMBER = "A valid number is required."
MSG_NO_LMS = "No LMS configuration found for this resource link."
MSG_CREATION_DEACTIVATED = "Unknown course run when creation is deactivated."
#: Richie's ``Course.CODE_MAX_LENGTH``: no course page has a longer (normalized) code.
COURSE_CODE_MAX_LENGTH = 100
MSG_MISSING_AUTH = "Missing authentication."
MSG_INVALID_AUTH = "Invalid authentication."

_OTHER_VERSION_RE = re.compile(r"/api/v([^/]+)/course-runs-sync/?")
_INT_DECIMAL_SUFFIX_RE = re.compile(r"\.0*\s*$")

_HTML_TEMPLATE = (
    "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>{title}</title>\n</head>\n"
    "<body>\n  <h1>{title}</h1><p>{text}</p>\n</body>\n</html>\n"
)


def _html(title: str, text: str = "") -> bytes:
    return _HTML_TEMPLATE.format(title=title, text=text).encode("utf-8")


HTML_404 = _html("Not Found", "The requested resource was not found on this server.")
HTML_500 = _html("Server Error (500)")
HTML_413 = _html("413 Request Entity Too Large", "nginx")

#: Answers under a 200 that Richie's sync view never gives (``non_richie_next``).
NON_RICHIE_ANSWERS = {
    "html": ("text/html; charset=utf-8", _html("Down for maintenance", "We will be back soon.")),
    "ok": ("text/plain", b"OK"),
    "list": ("application/json", b"[]"),
    "empty": ("application/json", b"{}"),
    "false": ("application/json", b'{"success":false}'),
}
RECORDED_BODY_MAX = 64 * 1024  # what RecordedRequest.response_body keeps of a streamed answer


def sign(body: bytes | str, secret: str) -> str:
    """Return the ``Authorization`` header value Richie expects for ``body`` and ``secret``."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def normalize_code(code: str) -> str:
    """
    Normalize a course code like Richie does (Django's ``slugify(allow_unicode=True)``, upper case).

    ``DemoX`` -> ``DEMOX``; Richie looks its course pages up by that normalized code and quotes it
    in ``Unknown course: CODE.``.
    """
    value = unicodedata.normalize("NFKC", str(code))
    value = re.sub(r"[^\w\s-]", "", value.lower())
    value = re.sub(r"[-\s]+", "-", value).strip("-_")
    return value.upper()


class _Headers(dict):
    """A plain dict of the request headers (names as sent) with case-insensitive lookups."""

    def __init__(self, items=()):
        super().__init__(items)
        self._lower = {key.lower(): key for key in self}

    def __getitem__(self, key):
        if not dict.__contains__(self, key) and isinstance(key, str):
            key = self._lower.get(key.lower(), key)
        return super().__getitem__(key)

    def __contains__(self, key):
        if dict.__contains__(self, key):
            return True
        return isinstance(key, str) and key.lower() in self._lower

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default


@dataclasses.dataclass
class RecordedRequest:
    """One request as the receiver saw it, and what it answered."""

    method: str
    path: str
    headers: dict
    body: bytes
    status: int | None = None  # None: the connection was dropped without a response
    response_body: bytes = b""
    response_headers: dict = dataclasses.field(default_factory=dict)
    connection_id: int = 0  # one number per TCP connection (keep-alive reuses it)
    client_port: int = 0
    fault: str | None = None  # the kind of fault injected ("fail", "timeout", "drip", ...) or None
    received_at: float = 0.0

    def json(self) -> Any:
        """The request body decoded as JSON."""
        return json.loads(self.body)

    def response_json(self) -> Any:
        """The response body decoded as JSON."""
        return json.loads(self.response_body)


# ---------------------------------------------------------------------------------------------
# Per-item outcomes
# ---------------------------------------------------------------------------------------------


class _ItemError(Exception):
    """Validation errors for one item (answered as a 400 dict of field -> messages)."""

    def __init__(self, errors: dict):
        super().__init__(errors)
        self.errors = errors


class _MissingLink(Exception):
    """The item has no (or an empty) resource_link."""


class _Unexpected(Exception):
    """An unexpected server error: Richie answers an HTML 500."""


_MISSING = object()


# ---------------------------------------------------------------------------------------------
# Field validation (mirrors the DRF fields of Richie's CourseRunSerializer)
# ---------------------------------------------------------------------------------------------


def _validate_datetime(value):
    """Return (value to store, is_naive) or raise ValueError with the message."""
    if value is None:
        return None, False
    if not isinstance(value, str) or not value.strip():
        raise ValueError(MSG_DATETIME)
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        if text.endswith(("Z", "z")):
            try:
                parsed = datetime.fromisoformat(text[:-1] + "+00:00")
            except ValueError:
                raise ValueError(MSG_DATETIME) from None
        else:
            raise ValueError(MSG_DATETIME) from None
    return value, parsed.tzinfo is None


def _validate_choice(value, choices):
    """A non-null DRF ChoiceField: ``value`` itself, or ValueError with Richie's message."""
    if value is None:
        raise ValueError(MSG_NULL)
    if isinstance(value, str) and value in choices:
        return value
    raise ValueError(f'"{value}" is not a valid choice.')


def _validate_nullable_choice(value, choices):
    if value is None:
        return None
    return _validate_choice(value, choices)


def _validate_enrollment_count(value):
    """A non-null DRF IntegerField from 0 to ``ENROLLMENT_COUNT_MAX``: returns the integer."""
    if value is None:
        raise ValueError(MSG_NULL)
    if isinstance(value, bool):
        raise ValueError(MSG_INTEGER)
    if isinstance(value, int):
        number = value
    elif isinstance(value, (float, str)):
        if isinstance(value, str) and len(value) > 1000:
            raise ValueError("String value too large.")
        try:
            number = int(_INT_DECIMAL_SUFFIX_RE.sub("", str(value)))
        except (ValueError, TypeError):
            raise ValueError(MSG_INTEGER) from None
    else:
        raise ValueError(MSG_INTEGER)
    if number < 0:
        raise ValueError("Ensure this value is greater than or equal to 0.")
    if number > ENROLLMENT_COUNT_MAX:
        raise ValueError(f"Ensure this value is less than or equal to {ENROLLMENT_COUNT_MAX}.")
    return number


_DECIMAL_QUANTUM = decimal.Decimal("0.01")


def _validate_decimal(value, max_digits=9, decimal_places=2):
    """A nullable DRF DecimalField: returns the quantized value as a string (what the DB holds)."""
    if value is None:
        return None
    if isinstance(value, (bool, dict, list)):
        raise ValueError(MSG_NUMBER)
    text = str(value).strip()
    if len(text) > 1000:
        raise ValueError("String value too large.")
    try:
        number = decimal.Decimal(text)
    except (decimal.DecimalException, ValueError):
        raise ValueError(MSG_NUMBER) from None
    if number.is_nan() or number.is_infinite():
        raise ValueError(MSG_NUMBER)
    _sign, digits, exponent = number.as_tuple()
    if exponent >= 0:
        total, places = len(digits) + exponent, 0
    elif len(digits) > -exponent:
        total, places = len(digits), -exponent
    else:
        total, places = -exponent, -exponent
    whole = total - places
    if total > max_digits:
        raise ValueError(f"Ensure that there are no more than {max_digits} digits in total.")
    if places > decimal_places:
        raise ValueError(f"Ensure that there are no more than {decimal_places} decimal places.")
    if whole > max_digits - decimal_places:
        raise ValueError(
            f"Ensure that there are no more than {max_digits - decimal_places} digits "
            "before the decimal point."
        )
    context = decimal.Context(prec=max_digits)
    return str(number.quantize(_DECIMAL_QUANTUM, context=context))


def _validate_string(value, max_length, nullable, allow_blank):
    """A DRF CharField (stripped, at most ``max_length`` characters): returns the stripped text."""
    if value is None:
        if nullable:
            return None
        raise ValueError(MSG_NULL)
    if isinstance(value, (bool, dict, list)):
        raise ValueError(MSG_NOT_STRING)
    text = str(value).strip()
    if not text and not allow_blank:
        raise ValueError(MSG_BLANK)
    if len(text) > max_length:
        raise ValueError(f"Ensure this field has no more than {max_length} characters.")
    return text


def _validate_languages(value):
    """A DRF MultipleChoiceField of ``LANGUAGE_CODES``: returns the list (``[]`` is accepted, as on Richie)."""
    if value is None:
        raise ValueError(MSG_NULL)
    if not isinstance(value, list):
        raise ValueError(f'Expected a list of items but got type "{type(value).__name__}".')
    for code in value:
        if not isinstance(code, str) or code not in LANGUAGE_CODES:
            raise ValueError(f'"{code}" is not a valid choice.')
    return list(value)


_SIMPLE_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "enrollment_count": _validate_enrollment_count,
    "price_currency": lambda v: _validate_string(v, 7, nullable=False, allow_blank=False),
    "offer": lambda v: _validate_nullable_choice(v, OFFER_CHOICES),
    "certificate_offer": lambda v: _validate_nullable_choice(v, CERTIFICATE_OFFER_CHOICES),
    "discount": lambda v: _validate_string(v, 20, nullable=True, allow_blank=True),
    "certificate_discount": lambda v: _validate_string(v, 20, nullable=True, allow_blank=True),
}
for _name in DECIMAL_FIELDS:
    _SIMPLE_VALIDATORS[_name] = _validate_decimal


def validate_item(data: dict, creating: bool) -> tuple[dict, dict, bool]:
    """
    Validate one course-run item like Richie's serializer.

    Returns ``(cleaned, errors, has_naive_date)``; ``cleaned`` only holds the fields present in
    ``data`` (partial update), ``errors`` maps field -> list of messages.
    """
    cleaned: dict = {}
    errors: dict = {}
    naive = False
    for name in FIELDS:
        value = data.get(name, _MISSING)
        if name == "resource_link":
            if len(value) > RESOURCE_LINK_MAX_LENGTH:
                errors[name] = [
                    f"Ensure this field has no more than {RESOURCE_LINK_MAX_LENGTH} characters."
                ]
            else:
                cleaned[name] = value
            continue
        if value is _MISSING:
            if name == "languages" and creating:
                errors[name] = [MSG_REQUIRED]
            continue
        try:
            if name in DATE_FIELDS:
                cleaned[name], is_naive = _validate_datetime(value)
                naive = naive or is_naive
            elif name == "languages":
                cleaned[name] = _validate_languages(value)
            elif name == "catalog_visibility":
                if isinstance(value, str):
                    value = OPENEDX_CATALOG_VISIBILITY_MAP.get(value, value)
                cleaned[name] = _validate_choice(value, CATALOG_VISIBILITY_CHOICES)
            else:
                cleaned[name] = _SIMPLE_VALIDATORS[name](value)
        except ValueError as exc:
            errors[name] = [str(exc)]
    return cleaned, errors, naive


# ---------------------------------------------------------------------------------------------
# HTTP layer
# ---------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    """The listening server: one daemon thread per connection, IPv6 when the host is an IPv6 address."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, handler, receiver):
        self.receiver = receiver
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def server_bind(self):
        # HTTPServer.server_bind resolves the host name (getfqdn), which can be slow: skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = host
        self.server_port = port

    def handle_error(self, request, client_address):  # noqa: D401 - keep tracebacks quiet
        if self.receiver.verbose:
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """
    One connection's requests, answered like Richie (or with the next injected fault).

    The receiver's state is reached through its handler interface: ``register_connection``,
    ``unregister_connection``, ``pop_fault``, ``stopping``, ``handle_request``, ``record_request``.
    """

    protocol_version = "HTTP/1.1"
    server_version = "RichieReceiver/1.0"
    sys_version = ""

    # -- connection lifecycle ------------------------------------------------------------------

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.receiver: RichieReceiver = self.server.receiver
        self.connection_id = self.receiver.register_connection(self.connection)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.receiver.unregister_connection(self.connection)

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        if self.receiver.verbose:
            super().log_message(format, *args)

    # -- dispatch ------------------------------------------------------------------------------

    def do_POST(self):
        self._dispatch()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_POST

    def _read_body(self) -> bytes:
        """The request body, ``Content-Length`` or chunked; ValueError or OSError when unreadable."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers, up to the empty line
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length) if length else b""

    def _dispatch(self):
        """Answer one request: with the next injected fault if one is queued, else as Richie would."""
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self._refuse_unreadable_body()
            return
        record = self._new_record(body)
        receiver = self.receiver
        fault = receiver.pop_fault()
        if fault is not None:
            record.fault = fault[0]
            if self._answer_fault(record, *fault):
                return
        elif receiver.body_limit is not None and len(body) > receiver.body_limit:
            self._respond(record, 413, "text/html; charset=utf-8", HTML_413)
            return
        self._answer_as_richie(record, body, fault)

    def _refuse_unreadable_body(self):
        """Answer 400 to a body that cannot be read (bad chunk size, negative length), then close."""
        self.close_connection = True
        try:
            self.send_error(400, "Bad request body")
        except OSError:
            pass

    def _new_record(self, body: bytes) -> RecordedRequest:
        """The request as the tests will see it (the answer is filled in when it is sent)."""
        return RecordedRequest(
            method=self.command,
            path=self.path,
            headers=_Headers(self.headers.items()),
            body=body,
            connection_id=self.connection_id,
            client_port=self.client_address[1] if len(self.client_address) > 1 else 0,
            received_at=time.time(),
        )

    def _answer_fault(self, record, kind, params) -> bool:
        """
        Answer with the injected fault ``kind``: True when done.

        False when the request must still be processed as Richie would: after a ``timeout`` delay,
        and for the faults that only alter Richie's answer (``partial``, ``drip``, ``gzip``
        without a bomb), applied by ``_answer_as_richie``.
        """
        receiver = self.receiver
        if kind == "drop":
            receiver.record_request(record)
            self._drop()
            return True
        if kind == "timeout":
            if receiver.stopping.wait(params["delay"]):
                # The receiver is stopping: do not process anything any more.
                self._drop()
                return True
            return False
        if kind == "fail":
            status = params["status"]
            reason = self.responses.get(status, ("Error",))[0]
            self._respond(record, status, "text/html; charset=utf-8", _html(f"{status} {reason}"))
        elif kind == "rate_limit":
            seconds = params["retry_after"]
            unit = "second" if seconds == 1 else "seconds"
            payload = {"detail": f"Request was throttled. Expected available in {seconds} {unit}."}
            self._respond(
                record, 429, "application/json", _json_bytes(payload),
                {"Retry-After": str(seconds)},
            )
        elif kind == "redirect":
            location = params["location"] or ("/en" + self.path)
            self._respond(
                record, params["status"], "text/html; charset=utf-8", b"",
                {"Location": location},
            )
        elif kind == "answer":
            self._respond(record, params["status"], params["content_type"], params["body"], params["headers"])
        elif kind == "huge":
            self._stream(record, 200, "text/html; charset=utf-8", _repeat(b"<p>maintenance</p>\n", params["size"]),
                         {"Content-Length": str(params["size"])})
        elif kind == "endless":
            self._stream(record, 200, "application/json", _endless(), {"Transfer-Encoding": "chunked"},
                         chunked=True)
        elif kind == "gzip" and params["bomb_size"] is not None:
            self._respond(record, 200, "application/json", _gzip_bomb(params["bomb_size"]),
                          {"Content-Encoding": "gzip"})
        else:
            return False
        return True

    def _answer_as_richie(self, record, body, fault):
        """
        Answer what Richie would, altered by a ``partial``, ``gzip`` or ``drip`` fault.

        Then hand every applied item to the receiver's ``on_apply`` callback, if any.
        """
        receiver = self.receiver
        status, content_type, payload, extra, applied = receiver.handle_request(
            self.command, self.path, record.headers, body
        )
        kind, params = fault if fault is not None else (None, {})
        if kind == "partial":
            payload = _leave_out(payload, params["leave_out"])
        if kind == "gzip":
            payload = gzip.compress(payload)
            extra = {**(extra or {}), "Content-Encoding": "gzip"}
        if kind == "drip":
            self._stream(record, status, content_type, _slices(payload, params["rate"]), extra,
                         rate=params["rate"], headers_too=params["headers_too"], length=len(payload))
        else:
            self._respond(record, status, content_type, payload, extra)
        if applied and receiver.on_apply is not None:
            for item in applied:
                # on_apply is any caller's code (the demo prints): whatever it raises, the other items
                # are still handed over and the handler thread goes on serving the connection.
                try:
                    receiver.on_apply(item)
                except Exception:  # pylint: disable=broad-exception-caught  # a demo callback must not kill the server
                    pass

    # -- responses -----------------------------------------------------------------------------

    def _drop(self):
        """Cut the connection without answering (a dropped connection, as the client sees it)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _stream(self, record, status, content_type, pieces, extra=None, *, chunked=False, rate=None,
                headers_too=False, length=None):
        """
        Send the answer's headers, then ``pieces`` of body one after the other (drip, huge, endless).

        ``rate`` (bytes per second) paces the pieces (and the headers with ``headers_too``); the
        answer stops when the client goes away or the receiver stops.
        """
        headers = {"Content-Type": content_type}
        if length is not None:
            headers["Content-Length"] = str(length)
        headers.update(extra or {})
        record.status = status
        record.response_headers = headers
        record.response_body = b""
        self.receiver.record_request(record)
        reason = self.responses.get(status, ("",))[0]
        lines = [f"HTTP/1.1 {status} {reason}", f"Server: {self.server_version}"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        stopping = self.receiver.stopping
        try:
            for piece in _slices(head, rate) if headers_too else [head]:
                self.wfile.write(piece)
                self.wfile.flush()
                if headers_too and stopping.wait(len(piece) / rate):
                    raise OSError("the receiver is stopping")
            for piece in pieces:
                if stopping.is_set():
                    raise OSError("the receiver is stopping")
                if len(record.response_body) < RECORDED_BODY_MAX:
                    record.response_body += piece[: RECORDED_BODY_MAX - len(record.response_body)]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
                self.wfile.flush()
                if rate and stopping.wait(len(piece) / rate):
                    raise OSError("the receiver is stopping")
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
            return
        except OSError:
            pass
        self.close_connection = True  # the answer was cut short: this connection cannot be reused

    def _respond(self, record, status, content_type, payload, extra=None):
        """Record ``record`` with its answer, then send the answer in one write (no body for HEAD)."""
        headers = {"Content-Type": content_type, "Content-Length": str(len(payload))}
        if extra:
            headers.update(extra)
        record.status = status
        record.response_body = payload
        record.response_headers = headers
        # Record before answering: when the client has the answer, the request is visible.
        self.receiver.record_request(record)
        reason = self.responses.get(status, ("",))[0]
        lines = [
            f"HTTP/1.1 {status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
        ]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        if self.close_connection:
            lines.append("Connection: close")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if self.command != "HEAD":
            data += payload
        try:
            self.wfile.write(data)
        except OSError:
            # The client went away (typically: it timed out). Nothing else to do.
            self.close_connection = True


def _json_bytes(payload) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _slices(data: bytes, rate):
    """``data`` in pieces of a tenth of a second at ``rate`` bytes per second (at least one byte)."""
    step = max(1, int(rate / 10)) if rate else len(data) or 1
    return [data[start:start + step] for start in range(0, len(data), step)]


def _repeat(pattern: bytes, size: int, piece: int = 64 * 1024):
    """``size`` bytes of ``pattern``, generated piece by piece (a 50 MB answer is never held in memory)."""
    block = (pattern * (piece // len(pattern) + 1))[:piece]
    sent = 0
    while sent < size:
        yield block[: size - sent]
        sent += min(piece, size - sent)


def _endless(piece: bytes = b" " * 16384):
    while True:
        yield piece


def _gzip_bomb(size: int) -> bytes:
    """A gzip member that inflates to ``size`` zero bytes (about a thousandth of that compressed)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    parts.append(compressor.compress(bytes(size % len(block))))
    parts.append(compressor.flush())
    return b"".join(parts)


def _leave_out(payload: bytes, count: int) -> bytes:
    """A batch answer without its last ``count`` resource links (Richie always reports every one)."""
    try:
        answer = json.loads(payload)
    except ValueError:
        return payload
    if not isinstance(answer, dict) or not all(isinstance(value, dict) for value in answer.values()):
        return payload
    kept = list(answer.items())[: max(len(answer) - count, 0)]
    return _json_bytes(dict(kept))


def deep_json(depth: int) -> bytes:
    """A JSON object nested ``depth`` levels: ``{"detail":{"detail":...{}...}}``."""
    return b'{"detail":' * (depth - 1) + b"{}" + b"}" * (depth - 1)


def _reject_constant(name):
    raise ValueError("Out of range float values are not JSON compliant")


# ---------------------------------------------------------------------------------------------
# The receiver
# ---------------------------------------------------------------------------------------------


class RichieReceiver:
    """
    A fake Richie course-run sync endpoint on loopback (see the module docstring).

    Public state (read it freely; it is mutated under ``self.lock``):

    - ``runs``: resource_link -> stored fields of that run (only fields ever received, plus
      ``resource_link``; a field never sent holds Richie's default, not represented here).
    - ``requests``: every request (``RecordedRequest``), in completion order.
    - ``applied``: every item that was stored, in order, as received.
    - ``naive_dates``: resource links for which a date without offset was received.
    - ``manual``: resource links whose run is in ``sync_mode`` "manual".
    - ``corrupted``: normalized course code -> resource links stored with ``languages: []``.
    - ``connections_opened``: number of TCP connections accepted so far.
    """

    def __init__(
        self,
        secrets=("peer-secret-1",),
        host="127.0.0.1",
        port=0,
        course_regex=DEFAULT_COURSE_REGEX,
        known_course_codes=None,
    ):
        """
        Configure the receiver's secrets, link regex and known course codes.

        known_course_codes: None = every course code has a Richie course page; else a set of
        codes (the middle segment of course-v1:ORG+CODE+RUN) that exist; creating a run under
        another code answers 400 {"resource_link": ["Unknown course: CODE."]} (CODE normalized
        like Richie: upper case). Codes are compared after Richie's normalization.
        """
        self.secrets: tuple[str, ...] = tuple(secrets)
        self.host = host
        self.port = port
        self.course_regex = course_regex
        self._course_re = re.compile(course_regex)
        self.known_course_codes = None if known_course_codes is None else set(known_course_codes)
        self._known_cache: tuple[int, frozenset] | None = None
        #: False imitates a Richie whose default course run sync mode is "manual": it updates the
        #: runs it has and answers "Unknown course run when creation is deactivated." for others.
        self.creation_enabled = True

        self.lock = threading.RLock()
        self._condition = threading.Condition(self.lock)
        self.runs: dict[str, dict] = {}
        self.requests: list[RecordedRequest] = []
        self.applied: list[dict] = []
        self.naive_dates: set[str] = set()
        self.manual: set[str] = set()
        self.corrupted: dict[str, set[str]] = {}
        self._faults: collections.deque = collections.deque()
        #: Largest request body accepted (None: no limit); a larger one answers 413 like nginx.
        self.body_limit: int | None = None
        self.connections_opened = 0
        self._active_sockets: set = set()

        #: Optional callable(item) called (outside the lock) for every applied item.
        self.on_apply: Callable[[dict], Any] | None = None
        #: Set to True to get http.server's access log and tracebacks on stderr.
        self.verbose = False

        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> "RichieReceiver":
        """Bind and serve in a daemon thread. Port 0 picks a free port."""
        if self._server is not None:
            return self
        self.stopping.clear()
        self._server = _Server((self.host, self.port), _Handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"richie-receiver-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and every open connection."""
        server = self._server
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        server.server_close()
        with self.lock:
            sockets = list(self._active_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> "RichieReceiver":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        return self.base_url + SYNC_PATH

    # -- configuration and state ---------------------------------------------------------------

    def reset(self) -> None:
        """
        Clear what the receiver received and every fault set on it.

        Cleared: runs, requests, applied items, pending faults, manual runs, naive dates and
        corruption (secrets, known course codes and the connection counter are kept).
        """
        with self.lock:
            self.runs.clear()
            self.requests.clear()
            self.applied.clear()
            self.naive_dates.clear()
            self.manual.clear()
            self.corrupted.clear()
            self._faults.clear()

    def set_secrets(self, *secrets: str) -> None:
        with self.lock:
            self.secrets = tuple(secrets)

    def set_known_course_codes(self, codes) -> None:
        """Replace the known course codes (None: every code is known)."""
        with self.lock:
            self.known_course_codes = None if codes is None else set(codes)
            self._known_cache = None

    def add_known_courses(self, *codes: str) -> None:
        """Create Richie course pages for these codes (no-op when every code is known)."""
        with self.lock:
            if self.known_course_codes is not None:
                self.known_course_codes.update(codes)
                self._known_cache = None

    def set_manual(self, resource_link: str, **fields) -> None:
        """
        Put a run in sync_mode "manual": a sync answers 200 (success) and leaves it unchanged.

        If the run does not exist yet it is created with ``fields`` (as stored values).
        """
        with self.lock:
            self.manual.add(resource_link)
            run = self.runs.setdefault(resource_link, {"resource_link": resource_link})
            run.update(fields)

    def snapshot(self) -> dict[str, dict]:
        """A deep-enough copy of ``runs`` taken under the lock."""
        with self.lock:
            return {link: dict(run) for link, run in self.runs.items()}

    # -- fault injection -----------------------------------------------------------------------

    def _add_fault(self, count: int, kind: str, **params) -> None:
        with self.lock:
            for _ in range(int(count)):
                self._faults.append((kind, params))

    def fail_next(self, count: int, status: int = 503) -> None:
        """The next ``count`` requests answer ``status`` with an HTML page; nothing applied."""
        self._add_fault(count, "fail", status=int(status))

    def timeout_next(self, count: int, delay: float) -> None:
        """The next ``count`` requests sleep ``delay`` seconds, then are processed normally."""
        self._add_fault(count, "timeout", delay=float(delay))

    def drop_next(self, count: int) -> None:
        """The next ``count`` requests are read, then the connection is closed without answer."""
        self._add_fault(count, "drop")

    def rate_limit_next(self, count: int, retry_after: int = 1) -> None:
        """The next ``count`` requests answer 429 with ``Retry-After: <retry_after>``."""
        self._add_fault(count, "rate_limit", retry_after=retry_after)

    def redirect_next(self, count: int, location: str | None = None, status: int = 302) -> None:
        """
        Redirect the next ``count`` requests, applying nothing.

        They answer ``status`` (301/302) to ``location`` (default: the same path under ``/en``).
        """
        self._add_fault(count, "redirect", location=location, status=int(status))

    # -- hostile peers: what a proxy, a maintenance page or a broken server answers -------------

    def answer_next(self, count: int, body: bytes | str, status: int = 200,
                    content_type: str = "application/json", headers: dict | None = None) -> None:
        """The next ``count`` requests answer exactly this (status, body, headers); nothing applied."""
        body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        self._add_fault(count, "answer", status=int(status), body=body, content_type=content_type,
                        headers=dict(headers or {}))

    def non_richie_next(self, count: int, answer: str = "html") -> None:
        """
        The next ``count`` requests answer 200 with what Richie never sends.

        ``answer`` is one of ``NON_RICHIE_ANSWERS`` (an HTML maintenance page, ``OK``, ``[]``, ``{}``,
        ``{"success": false}``).
        """
        content_type, body = NON_RICHIE_ANSWERS[answer]
        self.answer_next(count, body, 200, content_type)

    def partial_next(self, count: int, leave_out: int = 1) -> None:
        """The next ``count`` batches are applied, but their answer leaves the last ``leave_out`` links out."""
        self._add_fault(count, "partial", leave_out=int(leave_out))

    def drip_next(self, count: int, bytes_per_second: float, headers_too: bool = False) -> None:
        """
        The next ``count`` requests are applied, and answered slowly.

        The answer is sent at ``bytes_per_second`` (its headers too with ``headers_too``), in pieces
        every tenth of a second.
        """
        self._add_fault(count, "drip", rate=float(bytes_per_second), headers_too=bool(headers_too))

    def huge_next(self, count: int, size: int = 50 * 1024 * 1024) -> None:
        """The next ``count`` requests answer 200 with an HTML body of ``size`` bytes; nothing applied."""
        self._add_fault(count, "huge", size=int(size))

    def endless_next(self, count: int) -> None:
        """The next ``count`` requests answer 200 with a chunked body that never ends; nothing applied."""
        self._add_fault(count, "endless")

    def gzip_next(self, count: int, bomb_size: int | None = None) -> None:
        """
        The next ``count`` answers carry ``Content-Encoding: gzip``.

        They are Richie's own answer compressed (applied), or with ``bomb_size`` a gzip bomb inflating
        to that many bytes (nothing applied).
        """
        self._add_fault(count, "gzip", bomb_size=None if bomb_size is None else int(bomb_size))

    def retry_after_next(self, count: int, value: str, status: int = 429) -> None:
        """The next ``count`` requests answer ``status`` with ``Retry-After: <value>`` (any string)."""
        body = _json_bytes({"detail": "Request was throttled."}) if status == 429 else HTML_500
        content_type = "application/json" if status == 429 else "text/html; charset=utf-8"
        self.answer_next(count, body, status, content_type, {"Retry-After": str(value)})

    def deep_json_next(self, count: int, depth: int = 900, status: int = 200) -> None:
        """The next ``count`` requests answer ``status`` with a JSON object nested ``depth`` levels."""
        self.answer_next(count, deep_json(depth), status)

    def set_body_limit(self, max_bytes: int | None) -> None:
        """
        Answer 413 (nothing applied) to request bodies larger than ``max_bytes``.

        Like nginx's ``client_max_body_size`` in front of Richie; None removes the limit.
        """
        with self.lock:
            self.body_limit = None if max_bytes is None else int(max_bytes)

    @property
    def pending_faults(self) -> int:
        with self.lock:
            return len(self._faults)

    def pop_fault(self):
        """The next injected fault as ``(kind, params)``, taken off the queue; None when there is none."""
        with self.lock:
            return self._faults.popleft() if self._faults else None

    # -- waiting -------------------------------------------------------------------------------

    def wait_for(self, predicate: Callable[["RichieReceiver"], bool], timeout: float = 10.0) -> bool:
        """Wait until ``predicate(self)`` is true (re-checked after each request and every 50 ms)."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                if predicate(self):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(min(remaining, 0.05))

    # -- interface for the request handler (_Handler) ------------------------------------------

    def register_connection(self, sock) -> int:
        """Track a new connection (``stop`` closes it); returns its number, 1 for the first."""
        with self.lock:
            self.connections_opened += 1
            self._active_sockets.add(sock)
            return self.connections_opened

    def unregister_connection(self, sock) -> None:
        """Forget a connection once the handler is done with it."""
        with self.lock:
            self._active_sockets.discard(sock)

    def record_request(self, record: RecordedRequest) -> None:
        """Add ``record`` to ``requests`` and wake ``wait_for``."""
        with self._condition:
            self.requests.append(record)
            self._condition.notify_all()

    def _signature_ok(self, header: str, body: bytes) -> bool:
        """Whether ``header`` is the body's signature with one of the secrets (constant-time compare)."""
        given = header.encode("latin-1", errors="replace")
        ok = False
        for secret in self.secrets:
            expected = sign(body, secret).encode("ascii")
            ok |= hmac.compare_digest(given, expected)
        return ok

    def _is_known(self, code: str) -> bool:
        """Whether Richie has a course page for ``code`` (compared normalized, as Richie does)."""
        if len(normalize_code(code)) > COURSE_CODE_MAX_LENGTH:
            return False  # Richie's course codes are at most 100 characters: no page can have it
        known = self.known_course_codes
        if known is None or code in known:
            return True
        cache = self._known_cache
        if cache is None or cache[0] != len(known):
            cache = (len(known), frozenset(normalize_code(c) for c in known))
            self._known_cache = cache
        return normalize_code(code) in cache[1]

    def handle_request(self, method: str, raw_path: str, headers: dict, body: bytes):
        """Return (status, content_type, body, extra_headers, applied_items)."""
        path = urlsplit(raw_path).path
        if path in (SYNC_PATH, SYNC_PATH + "/"):
            if method != "POST":
                return 404, "text/html; charset=utf-8", HTML_404, None, ()
            return self._handle_sync(headers, body)
        match = _OTHER_VERSION_RE.fullmatch(path)
        if match:
            location = f"/en/api/v{match.group(1)}/course-runs-sync/"
            return 302, "text/html; charset=utf-8", b"", {"Location": location}, ()
        return 404, "text/html; charset=utf-8", HTML_404, None, ()

    def _handle_sync(self, headers: dict, body: bytes):
        """
        A request to the sync endpoint, checked in Richie's order: UTF-8, signature, media type, JSON.

        Returns the same tuple as ``handle_request``.
        """
        html = "text/html; charset=utf-8"
        as_json = "application/json"
        try:
            body.decode("utf-8")  # Richie decodes the body first: invalid UTF-8 is a 500
        except UnicodeDecodeError:
            return 500, html, HTML_500, None, ()

        authorization = headers.get("Authorization")
        if not authorization:
            return 403, as_json, _json_bytes(MSG_MISSING_AUTH), None, ()
        if not self._signature_ok(authorization, body):
            return 401, as_json, _json_bytes(MSG_INVALID_AUTH), None, ()

        if not body:
            data: Any = {}  # DRF: an empty body is an empty dict, whatever the content type
        else:
            content_type = headers.get("Content-Type") or ""
            media_type = content_type.split(";", 1)[0].strip().lower()
            if media_type != "application/json":
                detail = f'Unsupported media type "{content_type}" in request.'
                return 415, as_json, _json_bytes({"detail": detail}), None, ()
            try:
                data = json.loads(body, parse_constant=_reject_constant)
            except ValueError as exc:
                detail = f"JSON parse error - {exc}"
                return 400, as_json, _json_bytes({"detail": detail}), None, ()

        applied: list[dict] = []
        with self._condition:
            try:
                if isinstance(data, list):
                    status, result = self._sync_batch(data, applied)
                elif isinstance(data, dict):
                    status, result = self._sync_single(data, applied)
                else:
                    raise _Unexpected("request.data is neither a dict nor a list")
            except _Unexpected:
                status, result = 500, None
            self._condition.notify_all()
        if status == 500:
            return 500, html, HTML_500, None, applied
        return status, as_json, _json_bytes(result), None, applied

    def _sync_single(self, data: dict, applied: list):
        """One item (a JSON object): ``(status, answer)``, the item's errors in a 400."""
        try:
            self._sync_item(data, applied)
        except _MissingLink:
            return 400, {"resource_link": [MSG_REQUIRED]}
        except _ItemError as exc:
            return 400, exc.errors
        return 200, {"success": True}

    def _sync_batch(self, items: list, applied: list):
        """
        A batch (a JSON list): ``(status, answer)``, the answer mapping each link to its result.

        Every item needs a ``resource_link`` or the whole batch is a 400; one invalid item makes it a
        400 while the valid ones are still stored, as on Richie.
        """
        if not all(isinstance(item, dict) and "resource_link" in item for item in items):
            return 400, {"resource_link": [MSG_REQUIRED]}
        result: dict = {}
        status = 200
        for item in items:
            try:
                self._sync_item(item, applied)
            except _ItemError as exc:
                result[item["resource_link"]] = exc.errors
                status = 400
            except _MissingLink:
                # Richie only catches validation errors in a batch: anything else is a 500.
                raise _Unexpected("empty resource_link in a batch") from None
            else:
                result[item["resource_link"]] = {"success": True}
        return status, result

    def _lms_matches(self, resource_link: str) -> bool:
        """Richie's ``LMSHandler.select_lms``: ``re.match`` of the backend's COURSE_REGEX."""
        return self._course_re.match(resource_link) is not None

    def _course_code(self, resource_link: str) -> str:
        """
        Richie's ``extract_course_code``: the course_id group split like ``split_course_key``.

        Only called once the link matched; whatever Richie cannot split (no ``course_id`` group, a
        key that is not ``course-v1:ORG+CODE+RUN`` nor ``ORG/CODE/RUN``) is a 500 there.
        """
        try:
            course_id = self._course_re.match(resource_link).group("course_id") or ""
        except IndexError:
            raise _Unexpected("COURSE_REGEX has no course_id group") from None
        parts = course_id[10:].split("+") if course_id.startswith("course-v1:") else course_id.split("/")
        if len(parts) != 3:
            raise _Unexpected("the course_id captured by COURSE_REGEX is not a course key")
        return parts[1]

    def _sync_item(self, data: dict, applied: list) -> None:
        """
        Validate and store one item (lock held). Raises _ItemError, _MissingLink, _Unexpected.

        Same order as Richie's ``sync_course_run``: COURSE_REGEX, then validation, then (creation
        only) the creation switch and the course page lookup; nothing is stored before that.
        """
        link = data.get("resource_link")
        if not link:
            raise _MissingLink()
        if not isinstance(link, str):
            raise _Unexpected("resource_link is not a string")
        if not self._lms_matches(link):
            raise _ItemError({"resource_link": [MSG_NO_LMS]})

        run = self.runs.get(link)
        cleaned, errors, naive = validate_item(data, creating=run is None)
        if naive:
            self.naive_dates.add(link)
        if errors:
            raise _ItemError(errors)

        if run is not None:
            if link in self.manual:
                return  # sync_mode "manual": success, unchanged
            code = self._course_code(link)
            run.update(cleaned)
        else:
            if not self.creation_enabled:
                raise _ItemError({"resource_link": [MSG_CREATION_DEACTIVATED]})
            code = self._course_code(link)
            if not self._is_known(code):
                raise _ItemError({"resource_link": [f"Unknown course: {normalize_code(code)}."]})
            run = self.runs[link] = cleaned
        applied.append(data)
        self.applied.append(data)
        self._after_save(link, normalize_code(code), cleaned)

    def _after_save(self, link: str, course: str, cleaned: dict) -> None:
        """
        What follows a save on Richie (re-publishing the course page, indexing).

        ``languages: []`` is stored but breaks that step for the whole course until the run gets
        a valid non-empty languages list again.
        """
        languages = cleaned.get("languages", _MISSING)
        if languages is not _MISSING and not languages:
            self.corrupted.setdefault(course, set()).add(link)
            raise _Unexpected("empty languages")
        broken = self.corrupted.get(course)
        if broken:
            if link in broken and languages is not _MISSING:
                broken.discard(link)
                if not broken:
                    del self.corrupted[course]
                    return
            raise _Unexpected("course has a run with empty languages")


# ---------------------------------------------------------------------------------------------
# Command line (demo)
# ---------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    """Run the receiver in the foreground, printing every applied item as a JSON line (the demo)."""
    parser = argparse.ArgumentParser(
        prog="python -m test_support.richie_receiver",
        description="Run a fake Richie course-run sync endpoint in the foreground.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--secret", action="append", dest="secrets", metavar="SECRET",
                        help="shared secret (repeat for rotation); default: peer-secret-1")
    parser.add_argument("--known-course", action="append", dest="known", metavar="CODE",
                        help="course code with a Richie course page (repeat); default: all codes")
    parser.add_argument("--course-regex", default=DEFAULT_COURSE_REGEX)
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    args = parser.parse_args(argv)

    receiver = RichieReceiver(
        secrets=tuple(args.secrets or ("peer-secret-1",)),
        host=args.host,
        port=args.port,
        course_regex=args.course_regex,
        known_course_codes=None if not args.known else set(args.known),
    )
    receiver.verbose = args.verbose
    print_lock = threading.Lock()

    def print_item(item: dict) -> None:
        line = json.dumps(item, ensure_ascii=False, sort_keys=True)
        with print_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    receiver.on_apply = print_item
    receiver.start()
    sys.stderr.write(f"Richie receiver listening on {receiver.url} (Ctrl-C to stop)\n")
    sys.stderr.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
