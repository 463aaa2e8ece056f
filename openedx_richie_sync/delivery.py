"""
Deliver signed payloads to one Richie instance and say what happened.

``RichieClient`` owns a pooled ``requests.Session`` per instance (keep-alive, no redirects).
Every HTTP outcome is turned by the pure :func:`classify` into a ``Delivery``: success,
permanent failure (retrying cannot help: the message says what to fix) or transient failure
(retried with backoff; Richie's syncs are idempotent upserts, so a retry is always safe).
"""

import json
import random
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import requests
from requests.adapters import HTTPAdapter

from .signing import serialize, sign

SUCCESS = "success"
PERMANENT = "permanent"
TRANSIENT = "transient"
MAX_DETAIL_LENGTH = 500
USER_AGENT = "openedx-richie-sync"


@dataclass(frozen=True)
class Delivery:
    """The outcome of one POST. ``detail`` is Richie's answer (truncated); ``hint`` what to do."""

    outcome: str
    status: int | None = None
    detail: str = ""
    hint: str = ""
    retry_after: float | None = None
    items: dict = field(default_factory=dict)  # batch: resource_link -> Richie's per-item answer
    duration: float = 0.0

    @property
    def ok(self):
        return self.outcome == SUCCESS

    def describe(self):
        """One line for logs and operators: status, Richie's answer and what to do."""
        status = f"HTTP {self.status}" if self.status is not None else "no HTTP answer"
        text = f"{status}: {self.detail}".rstrip(".") if self.detail else status
        return f"{text}. {self.hint}" if self.hint else text


def truncate(text, limit=MAX_DETAIL_LENGTH):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_retry_after(value, now=None):
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date), or None."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or datetime.now(timezone.utc)
    return max((when - now).total_seconds(), 0.0)


def backoff_delay(retries, base, cap, retry_after=None, rng=random):
    """Exponential backoff with full jitter, never shorter than Richie's ``Retry-After``."""
    delay = rng.uniform(0, min(cap, base * (2**retries)))
    return max(delay, retry_after or 0.0)


def format_answer(data):
    """Richie's JSON answer as operators read it: ``languages: "en-us" is not a valid choice.``"""
    if isinstance(data, dict):
        return "; ".join(f"{key}: {format_answer(value)}" for key, value in data.items())
    if isinstance(data, list):
        return " ".join(format_answer(value) for value in data)
    return str(data)


def _json_or_text(body):
    try:
        return json.loads(body)
    except (ValueError, TypeError):
        return None


def field_errors_hint(errors, url):
    """What to do about Richie's field errors, from the messages real Richie sends (FACTS.md)."""
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
        return "Map the course language to a code Richie accepts with RICHIE_SYNC['LANGUAGE_MAPPING']."
    return f"Fix the fields Richie rejected (see Richie's answer), then resync; endpoint {url}."


def classify(status, headers, body, url=""):
    """Turn Richie's answer into a ``Delivery`` (pure; ``body`` is bytes or text)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    data = _json_or_text(body)
    if 200 <= status < 300:
        if isinstance(data, dict) and "success" not in data:
            return Delivery(SUCCESS, status, f"{len(data)} course runs accepted", items=data)
        return Delivery(SUCCESS, status, truncate(format_answer(data) if data is not None else body))
    detail = truncate(format_answer(data) if data is not None else body)
    if 300 <= status < 400:
        location = headers.get("Location", "")
        return Delivery(
            PERMANENT,
            status,
            f"redirected to {location or '(no Location)'}",
            "Redirects are not followed (they turn the POST into a GET). Set URL to the final endpoint: "
            "https://<richie>/api/v1.0/course-runs-sync (API version 1.0, https, the right host).",
        )
    if status == 429:
        return Delivery(
            TRANSIENT, status, detail, "Richie is rate limiting: retrying later.",
            retry_after=parse_retry_after(headers.get("Retry-After")),
        )
    if status >= 500:
        return Delivery(
            TRANSIENT,
            status,
            truncate(body, 200),
            "Richie failed internally: retrying (syncs are idempotent). If it persists, read Richie's logs "
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
    elif status == 415:
        hint = "Richie refused the content type: a proxy may rewrite requests; report this as a bug otherwise."
    elif status == 400:
        errors = data if isinstance(data, dict) else {"detail": detail}
        return Delivery(PERMANENT, status, detail, field_errors_hint(errors, url), items=errors)
    else:
        hint = "Unexpected answer from Richie: check URL and Richie's logs."
    return Delivery(PERMANENT, status, detail, hint)


def _without_url(error, instance):
    """An exception's text with the configured URL replaced by its safe form (no credentials)."""
    return str(error).replace(instance.url, instance.safe_url)


class RichieClient:
    """Signed POSTs to one Richie instance over a pooled keep-alive session."""

    def __init__(self, instance, session=None, pool_size=10):
        self.instance = instance
        self.session = session or self._new_session(pool_size)

    @staticmethod
    def _new_session(pool_size):
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers["User-Agent"] = USER_AGENT
        session.trust_env = False  # no surprise proxies or .netrc credentials
        return session

    def post(self, data):
        """Serialize once, sign those bytes, send those bytes. Never raises for network errors."""
        body = serialize(data)
        return self.post_body(body)

    def post_body(self, body, timeout=None):
        """POST ``body`` (bytes, already serialized); ``timeout`` overrides the instance's TIMEOUT."""
        instance = self.instance
        timeout = timeout or instance.timeout
        headers = {"Content-Type": "application/json", "Authorization": sign(body, instance.secret)}
        started = time.monotonic()
        try:
            response = self.session.post(
                instance.url,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                verify=instance.verify_tls,
            )
        except requests.Timeout as error:
            return Delivery(
                TRANSIENT, None, f"timed out after {timeout:g}s ({type(error).__name__})",
                f"Richie at {instance.safe_url} is slow or unreachable: retrying. Raise TIMEOUT if it is just slow.",
                duration=time.monotonic() - started,
            )
        except requests.exceptions.SSLError as error:
            return Delivery(
                PERMANENT, None, f"TLS verification failed ({truncate(_without_url(error, instance), 200)})",
                f"The certificate of {instance.safe_url} is not trusted: renew it, or set VERIFY_TLS to the bundle "
                "of the certificate authority that signed it.",
                duration=time.monotonic() - started,
            )
        except requests.RequestException as error:
            return Delivery(
                TRANSIENT, None, f"could not reach Richie ({type(error).__name__}: {truncate(_without_url(error, instance), 200)})",
                f"Check that {instance.safe_url} is reachable from this server (DNS, firewall, TLS): retrying.",
                duration=time.monotonic() - started,
            )
        delivery = classify(response.status_code, response.headers, response.content, instance.safe_url)
        return replace(delivery, duration=time.monotonic() - started)

    def check(self):
        """A signed empty list: Richie answers 200 and changes nothing, proving URL and secret."""
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
