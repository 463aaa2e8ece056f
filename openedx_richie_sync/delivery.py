"""
Deliver signed payloads to one Richie instance and say what happened.

``RichieClient`` owns a pooled ``requests.Session`` per instance (keep-alive, no redirects).
Every HTTP outcome is turned by the pure :func:`classify` into a ``Delivery``: success,
permanent failure (retrying cannot help: the message says what to fix) or transient failure
(retried with backoff; Richie's syncs are idempotent upserts, so a retry is always safe).

Richie's success answers are exact (docs/richie.md): ``{"success": true}`` for one course run,
an object keyed by every resource link of a list, ``{}`` for the signed empty list. Any other
2xx answer came from something else at the URL (a proxy, a maintenance page): it is a transient
failure, never a success.

The peer is not trusted to behave: an attempt (connecting, sending, waiting, reading the answer)
is cut off ``timeout`` seconds after it starts, whatever the peer does; an answer is read up to a
bound (decompressed size included), then the connection is closed; a ``Retry-After`` is parsed
without ever raising, and every retry delay is capped.
"""

import json
import math
import os
import random
import socket
import threading
import time
import zlib
from dataclasses import replace
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .data import Delivery, DeliveryOutcome
from .signing import serialize, sign

MAX_DETAIL_LENGTH = 500
USER_AGENT = "openedx-richie-sync"

# Richie's answers are small: ``{"success": true}``, or per resource link (<= 200 characters) a
# success or a few field errors. An answer is read up to these bounds (after decompression);
# anything longer is not Richie's and the connection is closed rather than read further.
ANSWER_BYTES = 64 * 1024  # one course run, or the signed empty list
ANSWER_BYTES_PER_RUN = 4 * 1024  # added per course run of a list...
MAX_ANSWER_BYTES = 1024 * 1024  # ...up to this
MAX_ANSWER_DEPTH = 16  # Richie's answers nest 3 levels (link → field → messages)
READ_CHUNK = 16 * 1024
# The watchdog closes the connection at the deadline; the attempt returns right after.
ATTEMPT_SLACK = 1.0
NOT_SENT = object()  # post_body: work out from the body what was sent


def truncate(text, limit=MAX_DETAIL_LENGTH):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def attempt_bound(timeout):
    """How long one attempt with this ``timeout`` can last at most (leases must be longer)."""
    return timeout + ATTEMPT_SLACK


def answer_limit(sent):
    """How many (decompressed) bytes of an answer to read for what was sent (see :func:`links_sent`)."""
    if not sent:
        return ANSWER_BYTES
    return min(MAX_ANSWER_BYTES, ANSWER_BYTES + ANSWER_BYTES_PER_RUN * len(sent))


def links_sent(body):
    """What a serialized body holds, as :func:`classify` needs it: None for one object, else the list's links."""
    if body.lstrip()[:1] != b"[":
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return ()
    return tuple(item.get("resource_link") for item in data if isinstance(item, dict))


def parse_retry_after(value, now=None):
    """
    Seconds to wait from a ``Retry-After`` header (seconds or HTTP date), or None. Never raises.

    The result is finite and >= 0 but not capped: callers cap it (see :func:`backoff_delay`).
    """
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
            if when.tzinfo is None:  # "-0000": UTC, as RFC 5322 means it
                when = when.replace(tzinfo=timezone.utc)
            seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def backoff_delay(retries, base, cap, retry_after=None, rng=random):
    """Exponential backoff with full jitter, at least Richie's ``Retry-After``, never more than ``cap``."""
    delay = rng.uniform(0, min(cap, base * 2.0 ** min(retries, 64)))
    wait = max(delay, retry_after or 0.0)
    return min(wait, cap) if math.isfinite(wait) else cap


def format_answer(data, depth=0):
    """
    Richie's JSON answer as operators read it.

    For example ``languages: "en-us" is not a valid choice.``
    """
    if depth > MAX_ANSWER_DEPTH:
        return "…"
    if isinstance(data, dict):
        return "; ".join(f"{key}: {format_answer(value, depth + 1)}" for key, value in data.items())
    if isinstance(data, list):
        return " ".join(format_answer(value, depth + 1) for value in data)
    return str(data)


def _deeper_than(data, limit):
    """Whether JSON ``data`` nests more than ``limit`` levels (iterative: no recursion limit to hit)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (value.values() if isinstance(value, dict) else value))
    return False


def parse_answer(text):
    """The answer as JSON, or None when it is not JSON or nests deeper than Richie's answers ever do."""
    try:
        data = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return None
    return None if _deeper_than(data, MAX_ANSWER_DEPTH) else data


def is_richie_success(value):
    """Exactly ``{"success": true}`` (``1`` or ``"true"`` are not Richie's)."""
    return isinstance(value, dict) and len(value) == 1 and value.get("success") is True


def field_errors_hint(errors, url):
    """What to do about Richie's field errors, from the messages real Richie sends (docs/richie.md)."""
    text = json.dumps(errors, ensure_ascii=False)
    if "Unknown course:" in text:
        return (
            "Richie has no course page with this course code: create the course in Richie "
            "(its code is the middle part of course-v1:ORG+CODE+RUN), publish it, then resync."
        )
    if "No LMS configuration found" in text:
        return (
            "The resource link does not match COURSE_REGEX of any RICHIE_LMS_BACKENDS entry in Richie: "
            "align Richie's COURSE_REGEX with this instance's RESOURCE_LINK_TEMPLATE."
        )
    if "languages" in text:
        return (
            "This plugin only sends codes of Django 4.2's language list (what Richie 3.5 accepts; a PAYLOAD_HOOK "
            "that sets other codes is refused before sending): this Richie accepts fewer. Map the course language "
            "to a code it accepts with RICHIE_SYNC['LANGUAGE_MAPPING']."
        )
    return f"Fix the fields Richie rejected (see Richie's answer), then resync; endpoint {url}."


def _not_richie_hint(url):
    return f"A proxy or maintenance page in front of Richie? Check URL ({url or 'the instance URL'}); retrying."


def _expected(sent):
    if sent is None:
        return '{"success": true}'
    return "{}" if not sent else "an object keyed by each resource link sent"


def not_richie(status, text, sent, url=""):
    """A 2xx answer that Richie's sync view never gives: a transient failure that says so."""
    shown = repr(truncate(text, 120)) if text.strip() else "an empty body"
    return Delivery(
        outcome=DeliveryOutcome.TRANSIENT, status=status,
        detail=f"the server answered {status} but not as Richie does (Richie answers {_expected(sent)}); "
        f"it sent {shown}",
        hint=_not_richie_hint(url),
    )


def run_outcome(delivery, link, url=""):
    """
    What the answer to a list says of one of its course runs (pure).

    A run counts as delivered only if its value is exactly ``{"success": true}``; a run left
    out of the answer failed (transiently: Richie always reports every resource link sent).
    """
    answer = delivery.items.get(link, NOT_SENT)
    if is_richie_success(answer):
        return Delivery(outcome=DeliveryOutcome.SUCCESS, status=delivery.status, detail="course run accepted")
    if answer is NOT_SENT:
        return Delivery(
            outcome=DeliveryOutcome.TRANSIENT, status=delivery.status,
            detail=f"the server answered {delivery.status} but not as Richie does: its answer to the list left this "
            "course run out (Richie reports every resource link sent)",
            hint=_not_richie_hint(url),
        )
    if delivery.status == 400 and isinstance(answer, dict):
        return Delivery(
            outcome=DeliveryOutcome.PERMANENT, status=400, detail=truncate(format_answer(answer)),
            hint=field_errors_hint(answer, url), items=answer,
        )
    return not_richie(delivery.status, json.dumps(answer, ensure_ascii=False), None, url)


def _judge_success(status, data, text, sent, url):
    """A 2xx answer: success only in Richie's exact forms for what was sent."""
    if status == 200 and sent is None and is_richie_success(data):
        return Delivery(outcome=DeliveryOutcome.SUCCESS, status=status, detail=format_answer(data))
    if status == 200 and sent == () and data == {} and isinstance(data, dict):
        return Delivery(outcome=DeliveryOutcome.SUCCESS, status=status, detail="signed empty list accepted")
    if status == 200 and sent and isinstance(data, dict):
        links = set(sent)
        answers = {link: data[link] for link in links if link in data}
        delivered = sum(1 for answer in answers.values() if is_richie_success(answer))
        if delivered == len(links):
            return Delivery(
                outcome=DeliveryOutcome.SUCCESS, status=status, detail=f"{delivered} course runs accepted",
                items=answers,
            )
        if answers:  # keyed by resource link but not all delivered: judged run by run (run_outcome)
            return Delivery(
                outcome=DeliveryOutcome.TRANSIENT, status=status,
                detail=f"the server answered 200 but not as Richie does: {delivered} of the {len(links)} course runs "
                "sent reported as accepted (Richie answers 400 when one fails, and reports every resource link sent)",
                hint=_not_richie_hint(url), items=answers,
            )
    return not_richie(status, text, sent, url)


def classify(status, headers, body, url="", *, sent):
    """
    Turn the server's answer into a ``Delivery`` (pure; ``body`` is bytes or text).

    ``sent`` says what was sent, to judge a success: None for one object, else the resource
    links of the list (``()`` for the signed empty list).
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    data = parse_answer(text)
    if 200 <= status < 300:
        return _judge_success(status, data, text, sent, url)
    detail = truncate(format_answer(data) if data is not None else text)
    if 300 <= status < 400:
        location = headers.get("Location", "")
        return Delivery(
            outcome=DeliveryOutcome.PERMANENT,
            status=status,
            detail=f"redirected to {truncate(location, 200) or '(no Location)'}",
            hint="Redirects are not followed (they turn the POST into a GET). Set URL to the final endpoint: "
            "https://<richie>/api/v1.0/course-runs-sync (API version 1.0, https, the right host).",
        )
    if status == 429:
        return Delivery(
            outcome=DeliveryOutcome.TRANSIENT, status=status, detail=detail,
            hint="Richie is rate limiting: retrying later.",
            retry_after=parse_retry_after(headers.get("Retry-After")),
        )
    if status >= 500:
        return Delivery(
            outcome=DeliveryOutcome.TRANSIENT,
            status=status,
            detail=truncate(text, 200),
            hint="Richie failed internally: retrying (syncs are idempotent). If it persists, read Richie's logs "
            "(a run stored with an empty language list makes every sync of its course fail).",
            retry_after=parse_retry_after(headers.get("Retry-After")),
        )
    if status == 401:
        hint = "SECRET does not match any of Richie's RICHIE_COURSE_RUN_SYNC_SECRETS: copy one of them into SECRET."
    elif status == 403:
        hint = (
            "Richie received no Authorization header: a proxy in front of Richie may strip it; "
            "make it pass the Authorization header through."
        )
    elif status == 404:
        hint = "URL is not Richie's sync endpoint: it must be https://<richie>/api/v1.0/course-runs-sync."
    elif status == 413:
        hint = (
            f"The server refused a list of {len(sent)} course runs as too large for its body size limit: "
            "the resync splits it; lower --batch-size, or raise that limit (nginx client_max_body_size)."
            if sent else
            "The payload is too large for the server's body size limit (nginx client_max_body_size in front of "
            "Richie, or Django's DATA_UPLOAD_MAX_MEMORY_SIZE): raise that limit, then resync."
        )
    elif status == 415:
        hint = "Richie refused the content type: a proxy may rewrite requests; report this as a bug otherwise."
    elif status == 400:
        errors = data if isinstance(data, dict) else {"detail": detail}
        return Delivery(
            outcome=DeliveryOutcome.PERMANENT, status=status, detail=detail, hint=field_errors_hint(errors, url),
            items=errors,
        )
    else:
        hint = "Unexpected answer from Richie: check URL and Richie's logs."
    return Delivery(outcome=DeliveryOutcome.PERMANENT, status=status, detail=detail, hint=hint)


def _without_url(error, instance):
    """An exception's text with the configured URL replaced by its safe form (no credentials)."""
    return str(error).replace(instance.url, instance.safe_url)


def _plain_http_port(error):
    """Whether a TLS handshake failed because the port speaks plain HTTP (OpenSSL's wording varies)."""
    text = str(error).lower()
    return any(sign_ in text for sign_ in ("wrong version number", "wrong_version_number", "record layer failure",
                                           "http request", "packet length too long"))


class _Unreadable(Exception):
    """The answer could not be read as the server sent it (compression we did not ask for, broken data)."""


class _Inflater:
    """Decompresses an answer without ever producing more than asked for (a gzip bomb stays small)."""

    def __init__(self, encoding):
        encoding = (encoding or "").strip().lower()
        if encoding in ("", "identity"):
            self.zlib = None
        elif encoding in ("gzip", "x-gzip"):
            self.zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self.zlib = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            raise _Unreadable(f"the answer is compressed with {encoding!r}, which this client did not ask for")

    def feed(self, data, room):
        """At most ``room`` + 1 bytes of output for ``data`` (one more than ``room`` says it is too long)."""
        if self.zlib is None:
            return data
        try:
            return self.zlib.decompress(data, room + 1) if data else self.zlib.flush()[: room + 1]
        except zlib.error as error:
            raise _Unreadable(f"the answer could not be decompressed ({error})") from None


def read_answer(response, limit, deadline):
    """
    Up to ``limit`` decompressed bytes of the answer, and whether that was all of it.

    Reads what has arrived (``read1``), so a peer dripping bytes cannot hold a read past
    ``deadline`` (``TimeoutError``). Raises ``_Unreadable``, or urllib3 or OS errors from the socket.
    """
    raw = response.raw
    read = getattr(raw, "read1", None) or raw.read  # read1: urllib3 >= 2.3
    inflater = _Inflater(response.headers.get("Content-Encoding"))
    parts, size, received = [], 0, 0
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError("the answer was still arriving at the deadline")
        chunk = read(READ_CHUNK, decode_content=False)
        received += len(chunk)
        data = inflater.feed(chunk, limit - size)
        parts.append(data)
        size += len(data)
        if size > limit or received > limit:
            return b"".join(parts)[:limit], False
        if not chunk:
            return b"".join(parts), True


_attempt = threading.local()


class _Watchdog:
    """
    Shuts the connection of an attempt that outlives its budget.

    Socket timeouts bound each wait, not the attempt: a server that drips its answer one byte
    a second, or never reads the request, would hold it for ever. The connection registers
    itself (see ``_WatchedConnection``) when the request starts.
    """

    def __init__(self, seconds):
        self.seconds = seconds
        self.connection = None
        self.fired = False
        self._done = False
        self._lock = threading.Lock()
        self._timer = None

    def __enter__(self):
        _attempt.watchdog = self
        self._arm(self.seconds)
        return self

    def __exit__(self, *exc_info):
        with self._lock:
            self._done = True
            self._timer.cancel()
        _attempt.watchdog = None

    def _arm(self, seconds):
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self):
        """The timer's end: cut the attempt's connection, or look again soon if it has no socket yet."""
        with self._lock:
            if self._done:
                return
            self.fired = True
            sock = getattr(self.connection, "sock", None)
            if sock is None:  # still resolving or connecting (bounded by the connect timeout): look again
                self._arm(0.05)
                return
            try:  # the plain socket's shutdown: wakes the blocked reader or sender, TLS or not
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass


class _WatchedConnection:
    """Mixin: tell the running attempt's watchdog which connection carries it."""

    def request(self, *args, **kwargs):
        """Register this connection with the attempt's watchdog, if any, then send as urllib3 does."""
        watchdog = getattr(_attempt, "watchdog", None)
        if watchdog is not None:
            with watchdog._lock:  # pylint: disable=protected-access  # the watchdog's own lock, same module
                watchdog.connection = self
        # The mixin's MRO partner is urllib3's HTTP(S)Connection (the type() calls below), which pylint cannot see.
        return super().request(*args, **kwargs)  # pylint: disable=no-member  # false positive, see above


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = type("WatchedHTTPConnection", (_WatchedConnection, HTTPConnectionPool.ConnectionCls), {})


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = type("WatchedHTTPSConnection", (_WatchedConnection, HTTPSConnectionPool.ConnectionCls), {})


class _WatchedAdapter(HTTPAdapter):
    """An adapter whose connections the watchdog can cut."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class RichieClient:
    """Signed POSTs to one Richie instance over a pooled keep-alive session."""

    def __init__(self, instance, session=None, pool_size=10):
        self.instance = instance
        self.session = session or self._new_session(pool_size)

    @staticmethod
    def _new_session(pool_size):
        """A session that only talks to Richie: watched connections, no retries, proxies or .netrc."""
        session = requests.Session()
        adapter = _WatchedAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers["User-Agent"] = USER_AGENT
        session.headers["Accept-Encoding"] = "gzip, deflate"  # what read_answer can inflate within bounds
        session.trust_env = False  # no surprise proxies or .netrc credentials
        return session

    def post(self, data):
        """Serialize once, sign those bytes, send those bytes. Never raises for network errors."""
        body = serialize(data)
        return self.post_body(body)

    def post_body(self, body, timeout=None, sent=NOT_SENT):
        """
        POST ``body`` (bytes, already serialized) and classify the answer. Never raises for network errors.

        ``timeout`` (default: the instance's TIMEOUT) bounds the whole attempt; ``sent`` is what
        :func:`classify` needs (default: read from ``body``).
        """
        timeout = timeout or self.instance.timeout
        sent = links_sent(body) if sent is NOT_SENT else sent
        started = time.monotonic()
        with _Watchdog(timeout) as watchdog:
            try:
                delivery = self._attempt(body, timeout, sent, started + timeout)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
                delivery = self._failure(error, timeout, watchdog.fired)
        return replace(delivery, duration=time.monotonic() - started)

    def _attempt(self, body, timeout, sent, deadline):
        """Send ``body`` signed and classify the answer, read within bounds; network errors propagate."""
        instance = self.instance
        headers = {"Content-Type": "application/json", "Authorization": sign(body, instance.secret)}
        response = self.session.post(
            instance.url, data=body, headers=headers, timeout=timeout, allow_redirects=False,
            verify=instance.verify_tls, stream=True,
        )
        limit = answer_limit(sent)
        try:
            answer, complete = read_answer(response, limit, deadline)
        except _Unreadable as error:
            return Delivery(
                outcome=DeliveryOutcome.TRANSIENT, status=response.status_code, detail=str(error),
                hint=_not_richie_hint(instance.safe_url),
            )
        finally:
            response.close()  # closes the connection unless the answer was read to its end
        if not complete and 200 <= response.status_code < 300:
            return Delivery(
                outcome=DeliveryOutcome.TRANSIENT, status=response.status_code,
                detail=f"the server answered {response.status_code} with more than {limit // 1024} KiB, not as Richie "
                "does (its answers are a few hundred bytes per course run); stopped reading",
                hint=_not_richie_hint(instance.safe_url),
            )
        return classify(response.status_code, response.headers, answer, instance.safe_url, sent=sent)

    def _failure(self, error, timeout, cut):
        """The Delivery of an attempt that got no complete answer (``cut``: the watchdog ended it)."""
        instance = self.instance
        if cut or isinstance(error, (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)):
            return Delivery(
                outcome=DeliveryOutcome.TRANSIENT, status=None,
                detail=f"timed out: no complete answer {timeout:g}s after the attempt started ({type(error).__name__})",
                hint=f"Richie at {instance.safe_url} is slow, unreachable or drips its answer: retrying. "
                "Raise TIMEOUT if it is just slow.",
            )
        if isinstance(error, requests.exceptions.SSLError) and _plain_http_port(error):
            return Delivery(
                outcome=DeliveryOutcome.PERMANENT, status=None,
                detail=f"TLS handshake failed ({truncate(_without_url(error, instance), 200)})",
                hint=f"{instance.safe_url} is https but that port serves plain HTTP: fix the port in URL "
                "(https is usually served on 443), or the scheme if Richie really serves plain HTTP there.",
            )
        if isinstance(instance.verify_tls, str) and not os.path.isfile(instance.verify_tls):
            return Delivery(  # requests raises a bare OSError for it, before any connection
                outcome=DeliveryOutcome.PERMANENT, status=None,
                detail=f"VERIFY_TLS names {instance.verify_tls!r}, which is not a file on this server",
                hint=f"Install that CA bundle where the workers run (image or volume), or correct VERIFY_TLS of "
                f"instance {instance.name!r}; `./manage.py cms check` reports it as richie_sync.E017.",
            )
        if isinstance(error, requests.exceptions.SSLError):
            return Delivery(
                outcome=DeliveryOutcome.PERMANENT, status=None,
                detail=f"TLS verification failed ({truncate(_without_url(error, instance), 200)})",
                hint=f"The certificate of {instance.safe_url} is not trusted: renew it, or set VERIFY_TLS to the "
                "bundle of the certificate authority that signed it.",
            )
        return Delivery(
            outcome=DeliveryOutcome.TRANSIENT, status=None,
            detail=f"could not reach Richie ({type(error).__name__}: {truncate(_without_url(error, instance), 200)})",
            hint=f"Check that {instance.safe_url} is reachable from this server (DNS, firewall, TLS): retrying.",
        )

    def check(self):
        """A signed empty list: Richie answers 200 ``{}`` and changes nothing, proving URL and secret."""
        return self.post([])


_clients = {}
_clients_lock = threading.Lock()


def client_for(instance):
    """The process-wide client of ``instance`` (reused so connections stay alive across tasks)."""
    with _clients_lock:
        client = _clients.get(instance.name)
        if client is None or client.instance != instance:
            client = _clients[instance.name] = RichieClient(instance)
        return client
