"""
The one write the ORM cannot do as fast: recording a resync's results.

Each result updates its own row with its own values (payload, hash, status, generation check),
under the lease it was sent with. One ``executemany`` per outcome runs that in the database
driver's loop; the ORM's set-based equivalent (an ``UPDATE`` with a ``Case``/``When`` per row and
column) made ``make bench`` about ten times slower. Status literals come from ``SyncStatus``.
"""

from django.db import connection, transaction
from django.utils import timezone

from .data import SyncStatus

_SYNCED, _PENDING = SyncStatus.SYNCED.value, SyncStatus.PENDING.value
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
