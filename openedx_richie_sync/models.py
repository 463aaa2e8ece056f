"""
Where each course run stands in each Richie instance: the durable sync state.

One row per (course, instance). It is the single source of truth for every guarantee:

- **Durable intent.** A publish, deletion or enrollment change marks the row ``pending`` in the
  same transaction as the change itself (``request``); a lost task leaves the row pending and the
  sweep finds it.
- **Coalescing.** Each request bumps ``generation``; a task carries the generation it was queued
  for and stands down when a newer request exists, so a burst of publishes gives one delivery.
- **Ordering.** A delivery holds a lease on the row (``lease`` / ``lease_rows``) while it reads the
  course and talks to Richie: two deliveries of one row never overlap, and the later one reads
  the newer data. A delivery that finishes after a newer request leaves the row pending.
- **Change detection.** ``payload_hash`` is the SHA-256 of the last payload Richie accepted: an
  identical payload is not sent again (Richie spends ~90 ms per update, docs/richie.md).
"""

import uuid
from datetime import timedelta
from datetime import timezone as dt_timezone
from functools import lru_cache

from django.db import connection, models
from django.db.models import BooleanField, Case, ExpressionWrapper, Q, Value, When
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .data import KnownState, SyncStatus
from .sync_sql import insert_leased, record_results


def _lease_free(now):
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


class Requested(dict):
    """``{instance: generation}`` of a request, with ``due_at[instance]``: when each delivery is due."""

    def __init__(self, generations=(), due_at=None):
        super().__init__(generations)
        self.due_at = due_at or {}


_REQUEST_COLUMNS = (
    "course_id", "org", "instance", "status", "generation", "requested_at", "due_at", "lease_token",
    "payload_hash", "attempts", "retryable", "last_error", "created", "modified",
)


def _aware(value):
    """A datetime read with a plain cursor (text in SQLite, naive UTC in MySQL) as Django reads it."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = value.replace(tzinfo=dt_timezone.utc)
    return value


@lru_cache(maxsize=64)
def _course_rows_sql(vendor, table, *columns):  # pylint: disable=unused-argument  # vendor: a cache key
    """``SELECT columns`` of one course's rows (``vendor`` keys the cache, as quoting depends on it)."""
    quote = connection.ops.quote_name
    return f"SELECT {', '.join(map(quote, columns))} FROM {quote(table)} WHERE {quote('course_id')} = %s"


@lru_cache(maxsize=64)
def _upsert_sql(vendor, table, count):
    """
    The request upsert: insert the rows, or make existing ones pending at the next generation.

    Parameters after the rows' values: now, the trailing due time, the start of the coalescing
    window that ends now, the trailing due time again. MySQL evaluates
    ``ON DUPLICATE KEY UPDATE`` assignments left to right with the values already assigned, so
    every column that reads ``status`` comes before it; other databases read the old row.
    """
    quote = connection.ops.quote_name
    table = quote(table)
    placeholders = "(" + ", ".join(["%s"] * len(_REQUEST_COLUMNS)) + ")"
    insert = (
        f"INSERT INTO {table} ({', '.join(map(quote, _REQUEST_COLUMNS))}) "
        f"VALUES {', '.join([placeholders] * count)}"
    )
    if vendor == "mysql":
        old, new = "", "VALUES({})"
        update = " ON DUPLICATE KEY UPDATE "
    else:
        old, new = f"{table}.", "excluded.{}"
        update = f" ON CONFLICT ({quote('course_id')}, {quote('instance')}) DO UPDATE SET "
    pending = f"{old}{quote('status')} = '{SyncStatus.PENDING.value}'"
    assignments = [
        f"{quote('requested_at')} = CASE WHEN {pending} THEN {old}{quote('requested_at')} "
        f"ELSE {new.format(quote('requested_at'))} END",
        f"{quote('due_at')} = CASE "
        f"WHEN {pending} AND {old}{quote('due_at')} > %s AND {old}{quote('due_at')} < %s THEN {old}{quote('due_at')} "
        f"WHEN {pending} OR {old}{quote('last_attempt_at')} > %s THEN %s "
        f"ELSE {new.format(quote('due_at'))} END",
        f"{quote('generation')} = {old}{quote('generation')} + 1",
        f"{quote('retryable')} = {new.format(quote('retryable'))}",
        f"{quote('modified')} = {new.format(quote('modified'))}",
        f"{quote('status')} = {new.format(quote('status'))}",
    ]
    return insert + update + ", ".join(assignments)


class CourseRunSyncStateQuerySet(models.QuerySet):
    """Every write to the sync state goes through these methods."""

    def states_by_course(self, instance_name, course_ids):
        """``{course_id: KnownState}`` for one instance, in one query."""
        busy = ExpressionWrapper(Q(lease_until__gt=timezone.now()), output_field=BooleanField())
        rows = self.filter(instance=instance_name, course_id__in=list(course_ids)).values_list(
            "course_id", "status", "payload_hash", "attempts", "generation", busy
        )
        return {
            course_id: KnownState(
                status=status, payload_hash=digest, attempts=attempts, generation=generation, busy=busy
            )
            for course_id, status, digest, attempts, generation, busy in rows
        }

    def request(self, course_id, org, instance_names, due_at, trailing_due_at=None):
        """
        Record that ``course_id`` must be delivered to these instances; return ``Requested``.

        Call it inside the transaction that changes the course, so that the intent is durable
        exactly when the change is. One upsert for every instance, then one read of the
        generations: no savepoint, no read before write. A row that is not pending becomes due at
        ``due_at`` (a publish passes now: the first change of a burst goes out at once), unless it
        was attempted within the window ``trailing_due_at - due_at``; a row already pending
        becomes due at ``trailing_due_at`` (default ``due_at``), or keeps an earlier due time still
        ahead. So the changes that follow the first within the window go out together, in one
        trailing delivery with the latest data, and a course is delivered about once per window
        at most.
        """
        names = list(dict.fromkeys(instance_names))
        if not names:
            return Requested()
        ops = connection.ops
        now = timezone.now()
        trailing_due_at = due_at if trailing_due_at is None else trailing_due_at
        values = [ops.adapt_datetimefield_value(value) for value in (now, due_at)]
        rows = [[course_id, org, name, SyncStatus.PENDING.value, 1, *values, "", "", 0, False, "", values[0], values[0]]
                for name in names]
        window_start = now - (trailing_due_at - due_at)
        params = [
            ops.adapt_datetimefield_value(value) for value in (now, trailing_due_at, window_start, trailing_due_at)
        ]
        table = self.model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(_upsert_sql(connection.vendor, table, len(rows)), [*sum(rows, []), *params])
            # A plain read: building the ORM query cost more than running both statements.
            cursor.execute(_course_rows_sql(connection.vendor, table, "instance", "generation", "due_at"), [course_id])
            found = [(name, generation, _aware(due)) for name, generation, due in cursor.fetchall() if name in names]
        return Requested({name: generation for name, generation, _ in found}, {name: due for name, _, due in found})

    def needing_update(self, course_id, instance_names, now):
        """
        ``[(instance, last success)]`` of the rows a new change must be requested for.

        That is all but those pending with no delivery under way, whose delivery will read the
        change anyway. One plain read (it runs on every enrollment of a busy course; the ORM's query building
        cost more than the query).
        """
        with connection.cursor() as cursor:
            sql = _course_rows_sql(
                connection.vendor, self.model._meta.db_table, "instance", "status", "lease_until", "last_success_at"
            )
            cursor.execute(sql, [course_id])
            rows = {
                name: (status, _aware(lease_until), _aware(last_success))
                for name, status, lease_until, last_success in cursor
            }
        needed = []
        for name in instance_names:
            status, lease_until, last_success = rows.get(name, (None, None, None))
            if status != SyncStatus.PENDING or (lease_until is not None and lease_until >= now):
                needed.append((name, last_success))
        return needed

    def lease(self, state, seconds):
        """Take the lease of one row if it is free and still at ``state.generation``; return a token or None."""
        now = timezone.now()
        token = uuid.uuid4().hex
        taken = self.filter(pk=state.pk, generation=state.generation).filter(_lease_free(now)).update(
            lease_token=token, lease_until=now + timedelta(seconds=seconds)
        )
        return token if taken else None

    def lease_rows(self, instance_name, generations, seconds, create=()):
        """
        Lease many rows of one instance at once; return ``(token, leased course ids)``.

        ``generations`` maps course id → the generation read before the course data was read:
        only rows still at that generation are leased (a newer request has its own delivery, which
        will send fresher data). ``create`` lists ``(course_id, org)`` of course runs without a
        row yet: they are inserted already leased, at generation 0. One statement per distinct
        generation; the leased rows are read back only when some could not be taken.
        """
        now = timezone.now()
        until = now + timedelta(seconds=seconds)
        token = uuid.uuid4().hex
        held, uncertain = set(), []
        created = {course_id for course_id, _ in create}
        if create:
            inserted = insert_leased(self.model._meta.db_table, instance_name, create, token, now, until)
            (held.update if inserted == len(created) else uncertain.extend)(created)
        by_generation = {}
        for course_id, generation in generations.items():
            if course_id not in created:
                by_generation.setdefault(generation, []).append(course_id)
        for generation, course_ids in by_generation.items():
            taken = (
                self.filter(instance=instance_name, course_id__in=course_ids, generation=generation)
                .filter(_lease_free(now))
                .update(lease_token=token, lease_until=until)
            )
            (held.update if taken == len(course_ids) else uncertain.extend)(course_ids)
        if uncertain:
            held.update(
                self.filter(instance=instance_name, course_id__in=uncertain, lease_token=token)
                .values_list("course_id", flat=True)
            )
        return token, held

    def finish(self, instance_name, results):
        """
        Record delivery results (``data.ItemResult``) of leased rows and release their lease.

        A row whose generation moved during the delivery stays pending: its newer request will
        deliver fresher data. A success stores the accepted payload's hash; a failure keeps the
        previous hash, since Richie did not take this payload. Raw SQL (``sync_sql``): going through
        the ORM cost more than the HTTP exchange in a full resync.
        """
        record_results(self.model._meta.db_table, instance_name, results)

    def finish_unchanged(self, state, token, refresh_at=None):
        """Richie already has this payload: the row is synced (unless a newer request came) and released."""
        self.filter(pk=state.pk, lease_token=token).update(
            refresh_at=refresh_at,
            status=Case(
                When(generation=state.generation, then=Value(SyncStatus.SYNCED)), default=Value(SyncStatus.PENDING)
            ),
            attempts=0,
            lease_token="",
            lease_until=None,
            modified=timezone.now(),
        )

    def renew(self, tokens, seconds):
        """Extend the leases held under ``tokens`` (a long resync's heartbeat)."""
        self.filter(lease_token__in=list(tokens)).update(lease_until=timezone.now() + timedelta(seconds=seconds))

    def release(self, token, instance_name, course_ids):
        """Give back the leases ``token`` holds on these rows, leaving their state as it is."""
        self.filter(instance=instance_name, course_id__in=list(course_ids), lease_token=token).update(
            lease_token="", lease_until=None
        )

    def due(self, grace_seconds=None, horizon_seconds=None):
        """
        Pending rows nobody holds; with ``grace_seconds``, only those overdue by that much.

        With ``horizon_seconds``, rows due further ahead than that are due now too: no delay this
        version computes goes that far, so such a row was parked by an earlier version honouring a
        huge ``Retry-After`` (see ``tasks.sweep``).
        """
        now = timezone.now()
        rows = self.filter(status=SyncStatus.PENDING).filter(_lease_free(now))
        if grace_seconds is not None:
            due = Q(due_at__lte=now - timedelta(seconds=grace_seconds))
            if horizon_seconds is not None:
                due |= Q(due_at__gt=now + timedelta(seconds=horizon_seconds))
            rows = rows.filter(due)
        return rows

    def refresh_due(self):
        """Synced rows whose payload has changed by itself since (a course mode expired)."""
        return self.filter(status=SyncStatus.SYNCED, refresh_at__lte=timezone.now())

    def retry_due(self, after_seconds):
        """Failed rows that may succeed later (Richie was down), last tried ``after_seconds`` ago."""
        cutoff = timezone.now() - timedelta(seconds=after_seconds)
        return self.filter(status=SyncStatus.FAILED, retryable=True, last_attempt_at__lte=cutoff)


class CourseRunSyncState(models.Model):
    """
    The synchronization state of one course run in one Richie instance.

    .. no_pii: Course keys, instance names, payloads about courses and Richie's answers only.
    """

    # A plain string, not a CourseKeyField: a resync reads and writes tens of thousands of rows,
    # and parsing keys was most of its cost.
    course_id = models.CharField(max_length=255)  # indexed by the (course_id, instance) constraint
    org = models.CharField(max_length=255, db_index=True)
    instance = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.PENDING)
    generation = models.PositiveIntegerField(
        default=0, help_text="Bumped by every request (publish, deletion, enrollment)."
    )
    requested_at = models.DateTimeField(null=True, blank=True, help_text="When the row last became pending.")
    due_at = models.DateTimeField(null=True, blank=True, help_text="When the pending delivery should run.")
    lease_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, help_text="A delivery holds the row until then.")
    payload_hash = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the last payload Richie accepted.")
    last_payload = models.TextField(null=True, blank=True, help_text="The last payload sent, as JSON.")
    attempts = models.PositiveIntegerField(default=0, help_text="Failed attempts since the last success.")
    retryable = models.BooleanField(default=False, help_text="The last failure was transient: the sweep retries it.")
    last_status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="HTTP status of the last attempt.")
    last_error = models.TextField(blank=True, help_text="Richie's answer to the last failed attempt, and what to do.")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    refresh_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the payload changes by itself (a course mode expires): the sweep delivers it again.",
    )
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    objects = CourseRunSyncStateQuerySet.as_manager()

    class Meta:
        app_label = "richie_sync"
        verbose_name = "course run sync state"
        constraints = [models.UniqueConstraint(fields=["course_id", "instance"], name="richie_sync_course_instance")]
        indexes = [
            models.Index(fields=["instance", "status"], name="richie_sync_instance_status"),
            models.Index(fields=["refresh_at"], name="richie_sync_refresh_at"),
        ]

    def __str__(self):
        return f"{self.course_id} → {self.instance}: {self.status}"
