"""
Where each course run stands in each Richie instance.

One row per (course, instance): the last outcome, Richie's answer, and the hash of the last
payload Richie accepted, so that what has not changed is not sent again (Richie spends ~90 ms
per update, FACTS.md). The publish path, the resync command and the admin all read this table.
"""

from typing import NamedTuple

from django.db import connection, models, transaction
from django.utils import timezone


class SyncStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SYNCED = "synced", "Synced"
    FAILED = "failed", "Failed"


class KnownState(NamedTuple):
    """The few columns change detection needs, read without building model instances."""

    status: str
    payload_hash: str
    attempts: int

    def is_current(self, payload_hash):
        return self.status == SyncStatus.SYNCED and self.payload_hash == payload_hash


class CourseRunSyncStateQuerySet(models.QuerySet):
    def for_instance(self, name):
        return self.filter(instance=name)

    def states_by_course(self, instance_name, course_ids):
        """``{course_id: KnownState}`` for one instance, in one query."""
        rows = self.filter(instance=instance_name, course_id__in=list(course_ids)).values_list(
            "course_id", "status", "payload_hash", "attempts"
        )
        return {course_id: KnownState(*known) for course_id, *known in rows}

    def record(self, instance_name, results):
        """
        Save delivery results (``resync.ItemResult``): one multi-row upsert per outcome.

        A success stores the accepted payload's hash; a failure keeps the last accepted hash and
        success date, so that a later identical payload is still sent (Richie did not take it).
        Written in SQL rather than ``bulk_create``: preparing every field of every row through the
        ORM cost more than the whole HTTP exchange in a full resync.
        """
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        successes, failures = [], []
        for result in results:
            common = [result.course_id, instance_name, result.org, result.payload_json, result.status, now, now]
            if result.ok:
                successes.append(common + [SyncStatus.SYNCED.value, 0, "", result.payload_hash, now, now])
            else:
                failures.append(common + [SyncStatus.FAILED.value, result.attempts, result.detail, "", None, now])
        common_columns = ["course_id", "instance", "org", "last_payload", "last_status", "last_attempt_at", "modified"]
        state_columns = ["status", "attempts", "last_error"]
        columns = common_columns + state_columns + ["payload_hash", "last_success_at", "created"]
        with transaction.atomic(), connection.cursor() as cursor:
            for rows, extra in ((successes, ["payload_hash", "last_success_at"]), (failures, [])):
                if rows:
                    updated = common_columns[2:] + state_columns + extra
                    cursor.executemany(_upsert_sql(self.model._meta.db_table, columns, updated), rows)


def _upsert_sql(table, columns, updated):
    """INSERT ... ON CONFLICT (course_id, instance) DO UPDATE, in the dialect of this database."""
    quote = connection.ops.quote_name
    insert = (
        f"INSERT INTO {quote(table)} ({', '.join(map(quote, columns))}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
    )
    if connection.vendor == "mysql":
        return insert + "ON DUPLICATE KEY UPDATE " + ", ".join(f"{quote(c)} = VALUES({quote(c)})" for c in updated)
    return insert + f"ON CONFLICT ({quote('course_id')}, {quote('instance')}) DO UPDATE SET " + ", ".join(
        f"{quote(c)} = excluded.{quote(c)}" for c in updated
    )


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
    payload_hash = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the last payload Richie accepted."
    )
    last_payload = models.TextField(null=True, blank=True, help_text="The last payload sent, as JSON.")
    attempts = models.PositiveIntegerField(default=0, help_text="Failed attempts since the last success.")
    last_status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="HTTP status of the last attempt.")
    last_error = models.TextField(blank=True, help_text="Richie's answer to the last failed attempt, and what to do.")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    objects = CourseRunSyncStateQuerySet.as_manager()

    class Meta:
        app_label = "richie_sync"
        verbose_name = "course run sync state"
        constraints = [models.UniqueConstraint(fields=["course_id", "instance"], name="richie_sync_course_instance")]
        indexes = [models.Index(fields=["instance", "status"], name="richie_sync_instance_status")]

    def __str__(self):
        return f"{self.course_id} → {self.instance}: {self.status}"

    def is_current(self, payload_hash):
        """Richie already holds exactly this payload."""
        return KnownState(self.status, self.payload_hash, self.attempts).is_current(payload_hash)
