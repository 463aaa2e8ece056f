"""
The values passed between the layers, and the vocabularies of their outcomes.

Plain data (as openedx-events' ``data.py``): no database, no network, no platform import, so that
every module can depend on it and it depends on none of them. Values are frozen and built with
keywords; ``InstanceReport`` alone is a mutable tally.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from django.db.models import TextChoices


class SyncStatus(TextChoices):
    """Where a (course, instance) row stands; the model's choices, and the literals of its SQL."""

    PENDING = "pending", "Pending"
    SYNCED = "synced", "Synced"
    FAILED = "failed", "Failed"


class DeliveryOutcome(StrEnum):
    """How Richie's answer to one request is classified (``delivery.classify``)."""

    SUCCESS = "success"
    PERMANENT = "permanent"  # retrying cannot help: the message says what to fix
    TRANSIENT = "transient"  # retried with backoff (Richie's syncs are idempotent upserts)


class TaskOutcome(StrEnum):
    """What one delivery of the publish path led to (the task's result, a monitoring attribute)."""

    SENT = "sent"
    UNCHANGED = "unchanged"  # Richie already has this payload, or the row is no longer pending
    FAILED = "failed"
    RETRYING = "retrying"
    SUPERSEDED = "superseded"  # a newer request has its own delivery
    BUSY = "busy"  # another delivery holds the row's lease
    SKIPPED = "skipped"  # the instance no longer serves the course
    PAUSED = "paused"  # waffle switch richie_sync.pause_deliveries


@dataclass(frozen=True, kw_only=True)
class CourseRun:
    """
    What Richie needs to know about one Open edX course run, read from the platform.

    Attributes:
        course_id: the course key, as text.
        org: its organisation.
        start, end, enrollment_start, enrollment_end: the platform's dates (aware, or None).
        language: Studio's course language code, or None.
        catalog_visibility: Open edX's value (``both``, ``about``, ``none``), or None.
        enrollment_count: active enrollments.
        lms_root_url: the LMS URL its resource link is built on.
        modes: ``(slug, min_price, currency, expiration_datetime)`` of each unexpired mode, when
            prices are sent; None when they were not read.
        load_error: why the platform could not load the course, and what to do; empty otherwise.
    """

    course_id: str
    org: str
    start: datetime | None = None
    end: datetime | None = None
    enrollment_start: datetime | None = None
    enrollment_end: datetime | None = None
    language: str | None = None
    catalog_visibility: str | None = None
    enrollment_count: int = 0
    lms_root_url: str = ""
    modes: tuple | None = None
    load_error: str = ""


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """
    The outcome of one POST to Richie.

    Attributes:
        outcome: success, permanent or transient failure.
        status: the HTTP status, None without an answer.
        detail: Richie's answer (truncated), or what went wrong.
        hint: what to do about it.
        retry_after: seconds Richie asked to wait (``Retry-After``), or None.
        items: for a list sent, ``resource_link`` → Richie's answer for it.
        duration: seconds the attempt took.
    """

    outcome: DeliveryOutcome
    status: int | None = None
    detail: str = ""
    hint: str = ""
    retry_after: float | None = None
    items: dict = field(default_factory=dict)
    duration: float = 0.0

    @property
    def ok(self):
        return self.outcome == DeliveryOutcome.SUCCESS

    def describe(self):
        """One line for logs and operators: status, Richie's answer and what to do."""
        status = f"HTTP {self.status}" if self.status is not None else "no HTTP answer"
        text = f"{status}: {self.detail}".rstrip(".") if self.detail else status
        return f"{text}. {self.hint}" if self.hint else text


@dataclass(frozen=True, kw_only=True, slots=True)
class KnownState:
    """
    The few columns of a sync-state row a resync needs, read without building model instances.

    Attributes:
        status: the row's ``SyncStatus`` value.
        payload_hash: SHA-256 of the payload Richie last accepted.
        attempts: failed attempts since the last success.
        generation: the row's request counter.
        busy: a delivery or another resync holds the row's lease.
    """

    status: str
    payload_hash: str
    attempts: int
    generation: int
    busy: bool

    def is_current(self, payload_hash):
        return self.status == SyncStatus.SYNCED and self.payload_hash == payload_hash


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """
    One payload ready to send: its bytes are both hashed and sent.

    Attributes:
        course_id, org: the course run.
        payload: the payload, as built.
        body: its serialized bytes (signed and sent as they are).
        payload_hash: SHA-256 of ``body``.
        attempts: failed attempts recorded so far.
        generation: of the sync-state row, read before the course data.
        token: the lease held on that row while the item is sent (set by ``replace`` once leased).
        refresh_at: when this payload changes by itself (a course mode expires), or None.
    """

    course_id: str
    org: str
    payload: dict
    body: bytes
    payload_hash: str
    attempts: int = 0
    generation: int = 0
    token: str = ""
    refresh_at: datetime | None = None

    @property
    def link(self):
        return self.payload["resource_link"]


@dataclass(frozen=True, kw_only=True)
class ItemResult:
    """
    What happened to one course run on one instance, as ``models.finish`` records it.

    Attributes:
        course_id, org: the course run.
        ok: Richie accepted it.
        payload_json: the body sent, as text (None when nothing was built).
        payload_hash: its SHA-256.
        status: Richie's HTTP status, None without an answer.
        detail: Richie's answer to a failure, and what to do.
        attempts: failed attempts after this one (0 after a success).
        generation: the row's generation the item was sent for.
        state: the row's status after a failure: failed, or pending while the publish path retries it.
        retryable: the failure was transient: the sweep retries it later.
        token: the lease the item was sent under.
        refresh_at: when the payload changes by itself, or None.
    """

    course_id: str
    org: str
    ok: bool
    payload_json: str | None = None
    payload_hash: str = ""
    status: int | None = None
    detail: str = ""
    attempts: int = 0
    generation: int = 0
    state: SyncStatus = SyncStatus.FAILED
    retryable: bool = False
    token: str = ""
    refresh_at: datetime | None = None

    @classmethod
    def of(cls, item, delivery=None, detail=None, retryable=None, state=SyncStatus.FAILED):
        """The result of ``item`` for ``delivery`` (None: refused before sending, with ``detail``)."""
        ok = delivery is not None and delivery.ok
        if retryable is None:
            retryable = delivery is not None and delivery.outcome == DeliveryOutcome.TRANSIENT
        return cls(
            course_id=item.course_id,
            org=item.org,
            ok=ok,
            payload_json=item.body.decode("utf-8"),
            payload_hash=item.payload_hash,
            status=delivery.status if delivery is not None else None,
            detail="" if ok else (detail if detail is not None else delivery.describe()),
            attempts=0 if ok else item.attempts + 1,
            generation=item.generation,
            state=state,
            retryable=retryable,
            token=item.token,
            refresh_at=item.refresh_at,
        )


@dataclass(kw_only=True)
class InstanceReport:
    """
    Counts of one instance for the command's summary.

    A tally the resync adds to as batches come back, hence mutable.

    Attributes:
        name: the instance.
        sent, unchanged, failed: course runs by outcome.
        busy: runs held by a delivery under way or another resync (leased): left to it.
        requests: HTTP requests made.
        failures: ``(course key, Richie's answer)`` of each failed run.
        aborted: why the instance refused the resync as a whole, if it did.
    """

    name: str
    sent: int = 0
    unchanged: int = 0
    failed: int = 0
    busy: int = 0
    requests: int = 0
    failures: list = field(default_factory=list)
    aborted: str = ""

    def add(self, results):
        """Count a batch's results (``ItemResult``), keeping Richie's answer for each failed run."""
        for result in results:
            if result.ok:
                self.sent += 1
            else:
                self.failed += 1
                self.failures.append((result.course_id, result.detail))


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """
    What one delivery attempt of the publish path led to.

    Attributes:
        result: the outcome.
        retry_in: seconds after which it must be tried again, or None.
    """

    result: TaskOutcome
    retry_in: float | None = None


@dataclass(frozen=True, kw_only=True)
class LinkCheck:
    """
    The verdict of ``--check`` on one instance's resource links.

    Attributes:
        ok: Richie reads the links (a made-up course's run got "Unknown course", or updates only).
        line: what the command prints, with what to do when not ``ok``.
    """

    ok: bool
    line: str
