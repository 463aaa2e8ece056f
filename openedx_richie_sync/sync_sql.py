"""
The two writes of a resync the ORM cannot do as fast, as raw SQL (status literals from ``SyncStatus``).

- Creating the missing rows, already leased (``insert_leased``): one ``executemany`` of
  ``INSERT ... ON CONFLICT DO NOTHING`` (``INSERT IGNORE`` on MySQL). ``bulk_create(ignore_conflicts=True)``
  does the same but prepares every value through its field: 13 times the CPU, which doubled the
  first ``make bench`` resync (10,000 rows created).
- Recording results (``record_results``): each result updates its own row with its own values
  (payload, hash, status, generation check), under the lease it was sent with; one ``executemany``
  per outcome. The ORM's set-based equivalent (an ``UPDATE`` with a ``Case``/``When`` per row and
  column) made ``make bench`` about ten times slower.
"""

from django.db import connection, transaction
from django.utils import timezone

from .data import SyncStatus

_SYNCED, _PENDING = SyncStatus.SYNCED.value, SyncStatus.PENDING.value
_INSERTED_COLUMNS = (
    "course_id", "org", "instance", "status", "generation", "requested_at", "due_at", "lease_token",
    "lease_until", "payload_hash", "attempts", "retryable", "last_error", "created", "modified",
)
_LEASED_ROW = "WHERE instance = %s AND course_id = %s AND lease_token = %s"
_RELEASE = "lease_token = '', lease_until = NULL"
SUCCESS_SQL = (
    f"UPDATE {{table}} SET status = CASE WHEN generation = %s THEN '{_SYNCED}' ELSE '{_PENDING}' END, "
    "last_payload = %s, last_status = %s, payload_hash = %s, attempts = 0, last_error = '', "
    "retryable = FALSE, last_attempt_at = %s, last_success_at = %s, refresh_at = %s, modified = %s, "
    f"{_RELEASE} {_LEASED_ROW}"
)
FAILURE_SQL = (
    f"UPDATE {{table}} SET status = CASE WHEN generation = %s THEN %s ELSE '{_PENDING}' END, "
    "last_payload = %s, last_status = %s, attempts = %s, last_error = %s, retryable = %s, "
    f"last_attempt_at = %s, modified = %s, {_RELEASE} {_LEASED_ROW}"
)


def record_results(table, instance_name, results):
    """Write ``results`` (``data.ItemResult``) of ``instance_name`` to ``table`` (see ``models.finish``)."""
    adapt = connection.ops.adapt_datetimefield_value
    now = adapt(timezone.now())
    successes, failures = [], []
    for result in results:
        where = [instance_name, result.course_id, result.token]
        if result.ok:
            successes.append(
                [result.generation, result.payload_json, result.status, result.payload_hash, now, now,
                 adapt(result.refresh_at), now, *where]
            )
        else:
            failures.append(
                [result.generation, str(result.state), result.payload_json, result.status, result.attempts,
                 result.detail, result.retryable, now, now, *where]
            )
    table = connection.ops.quote_name(table)
    with transaction.atomic(), connection.cursor() as cursor:
        if successes:
            cursor.executemany(SUCCESS_SQL.format(table=table), successes)
        if failures:
            cursor.executemany(FAILURE_SQL.format(table=table), failures)


# pylint: disable-next=too-many-positional-arguments  # one caller (models), the statement's own parameters
def insert_leased(table, instance_name, runs, token, now, until):
    """
    Insert ``runs`` (``(course_id, org)``) of ``instance_name`` as leased pending rows.

    The rows are at generation 0, leased under ``token`` until ``until``; rows that exist are left
    untouched. Return how many were inserted, or -1 when the driver does not say (then the caller
    reads them back).
    """
    adapt = connection.ops.adapt_datetimefield_value
    now, until = adapt(now), adapt(until)
    rows = [
        [course_id, org, instance_name, _PENDING, 0, now, now, token, until, "", 0, False, "", now, now]
        for course_id, org in runs
    ]
    quote = connection.ops.quote_name
    insert = "INSERT IGNORE INTO" if connection.vendor == "mysql" else "INSERT INTO"
    conflict = "" if connection.vendor == "mysql" else " ON CONFLICT DO NOTHING"
    sql = (
        f"{insert} {quote(table)} ({', '.join(map(quote, _INSERTED_COLUMNS))}) "
        f"VALUES ({', '.join(['%s'] * len(_INSERTED_COLUMNS))}){conflict}"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)
        # SQLite counts the rows of the whole executemany; other drivers may not.
        return cursor.rowcount if connection.vendor == "sqlite" else -1
