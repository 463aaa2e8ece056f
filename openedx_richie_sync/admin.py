"""
Django admin for the Richie sync state.

Operators see where each course run stands in each Richie instance, read Richie's last answer,
and ask for a resync.

The state is written only by the delivery machinery (``models.CourseRunSyncStateQuerySet``), so
every field is read-only here; the actions go through the same ``request`` + ``enqueue`` path as
a Studio publish. Nothing here reads or renders the ``RICHIE_SYNC`` setting beyond instance
names: secrets never reach a page.
"""

import json
import logging
from functools import partial

from django.contrib import admin, messages
from django.core import checks
from django.db import transaction
from django.utils import timezone
from django.utils.html import format_html

from .checks import configuration_messages
from .configuration import get_config_and_problems
from .models import CourseRunSyncState, SyncStatus
from .routing import Router
from .tasks import enqueue

log = logging.getLogger(__name__)

ERROR_PREVIEW_LENGTH = 80
HASH_PREVIEW_LENGTH = 12
MAX_NAMED_ROWS = 20  # a message naming thousands of rows helps nobody
STATUS_COLOURS = {SyncStatus.SYNCED: "#2e7d32", SyncStatus.PENDING: "#b26a00", SyncStatus.FAILED: "#c62828"}
DELETE_NOTE = (
    "Deleting a row (superusers only) forgets which payload Richie holds: the next resync sends "
    "the course again. Nothing is removed from Richie."
)


def _name_rows(rows):
    """``course → instance`` for a message, at most ``MAX_NAMED_ROWS`` of them."""
    named = ", ".join(f"{course_id} → {instance}" for course_id, instance in rows[:MAX_NAMED_ROWS])
    if len(rows) > MAX_NAMED_ROWS:
        named += f" and {len(rows) - MAX_NAMED_ROWS} more"
    return named


@admin.register(CourseRunSyncState)
class CourseRunSyncStateAdmin(admin.ModelAdmin):
    """
    Read-only view of the sync state, with "Resync now" and "Force resync" actions.

    Rows are created by publishes and resyncs, never by hand (no add permission), and never
    edited by hand: a hand-edited generation or hash would break coalescing and change
    detection. Deleting a row is left to superusers: the next resync then resends the course.
    """

    list_display = (
        "course_id",
        "instance",
        "status_display",
        "last_attempt_at",
        "last_success_at",
        "attempts",
        "last_status",
        "last_error_preview",
        "payload_hash_preview",
    )
    list_filter = ("status", "instance", "org")
    search_fields = ("course_id", "=org")
    ordering = ("course_id", "instance")  # the (course_id, instance) unique index serves it
    list_per_page = 100
    actions = ("resync_now", "force_resync")

    fieldsets = (
        ("Course run", {"fields": ("course_id", "org", "instance"), "description": DELETE_NOTE}),
        (
            "State",
            {"fields": ("status", "retryable", "attempts", "requested_at", "last_attempt_at", "last_success_at")},
        ),
        ("Last attempt", {"fields": ("last_status", "last_error")}),
        ("Richie's copy", {"fields": ("payload_hash", "pretty_payload")}),
        (
            "Internals",
            {
                "classes": ("collapse",),
                "fields": ("generation", "due_at", "lease_token", "lease_until", "created", "modified"),
            },
        ),
    )
    readonly_fields = tuple(field for _, options in fieldsets for field in options["fields"])

    def changelist_view(self, request, extra_context=None):
        """Configuration errors first: a row that never moves is often an instance the settings skip."""
        for message in configuration_messages(*get_config_and_problems()):
            if message.level >= checks.ERROR:
                self.message_user(
                    request,
                    f"RICHIE_SYNC configuration error ({message.id}): {message.msg} {message.hint or ''} "
                    "Deliveries skip what it names until the setting is fixed.",
                    messages.ERROR,
                )
        return super().changelist_view(request, extra_context)

    # Permissions: the state is the delivery machinery's, not the operator's.

    def has_add_permission(self, request):
        """Rows come from publishes and resyncs only."""
        return False

    def has_change_permission(self, request, obj=None):
        """Nobody edits the state by hand: the change page is a read-only view."""
        return False

    def has_delete_permission(self, request, obj=None):
        """Superusers only: a deleted row makes the next resync resend the course."""
        return request.user.is_active and request.user.is_superuser

    def has_resync_permission(self, request):
        """Asking for a delivery needs the model's change permission (it only writes through ``request``)."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    # Columns and fields.

    @admin.display(description="status", ordering="status")
    def status_display(self, obj):
        colour = STATUS_COLOURS.get(obj.status, "inherit")
        return format_html('<strong style="color: {}">{}</strong>', colour, obj.get_status_display())

    @admin.display(description="last error")
    def last_error_preview(self, obj):
        """Richie's last answer on one line, cut to fit the list."""
        error = " ".join((obj.last_error or "").split())
        if len(error) > ERROR_PREVIEW_LENGTH:
            return error[: ERROR_PREVIEW_LENGTH - 1] + "…"
        return error

    @admin.display(description="payload hash", ordering="payload_hash")
    def payload_hash_preview(self, obj):
        return (obj.payload_hash or "")[:HASH_PREVIEW_LENGTH]

    @admin.display(description="last payload")
    def pretty_payload(self, obj):
        """The last payload sent, indented; shown as stored if it is not valid JSON."""
        if not obj.last_payload:
            return "-"
        try:
            text = json.dumps(json.loads(obj.last_payload), indent=2, ensure_ascii=False)
        except ValueError:
            text = obj.last_payload
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)

    # Actions.

    @admin.action(description="Resync now", permissions=["resync"])
    def resync_now(self, request, queryset):
        self._resync(request, queryset, force=False)

    @admin.action(description="Force resync (send even unchanged)", permissions=["resync"])
    def force_resync(self, request, queryset):
        self._resync(request, queryset, force=True)

    def _resync(self, request, queryset, force):
        """
        Record a request for each row, then queue its delivery once the request is committed.

        The same path as a Studio publish: if the broker is down the rows stay pending and the
        sweep (or ``sync_courses_to_richie --pending``) delivers them.
        """
        router = Router()
        now = timezone.now()
        by_course, skipped = {}, []
        with transaction.atomic():
            for course_id, org, name in queryset.order_by("course_id", "instance").values_list(
                "course_id", "org", "instance"
            ):
                if router.instance(name, org) is None:
                    skipped.append((course_id, name))
                    continue
                generations = CourseRunSyncState.objects.request(course_id, org, [name], due_at=now)
                by_course.setdefault(course_id, {}).update(generations)
            transaction.on_commit(partial(self._enqueue_and_report, request, by_course, force))
        if skipped:
            self.message_user(
                request,
                f"Skipped {len(skipped)} row(s) whose Richie instance is no longer configured, is disabled "
                f"or does not serve the course's organization: {_name_rows(skipped)}.",
                messages.WARNING,
            )

    def _enqueue_and_report(self, request, by_course, force):
        """Queue the deliveries (after the commit, so a task never reads an older row) and say what happened."""
        queued, pending = 0, []
        for course_id, generations in by_course.items():
            try:
                failed = enqueue(course_id, generations, force=force)
            except Exception:  # pylint: disable=broad-except
                log.exception("Could not queue the Richie sync of course %s from the admin.", course_id)
                failed = list(generations)
            queued += len(generations) - len(failed)
            pending.extend((course_id, name) for name in failed)
        kind = "forced deliveries" if force else "deliveries"
        self.message_user(request, f"Queued {queued} Richie {kind}.", messages.SUCCESS)
        if pending:
            self.message_user(
                request,
                f"Could not queue {len(pending)} delivery(ies): the Celery broker is unreachable. They are "
                f"recorded as pending ({_name_rows(pending)}): the sweep will deliver them, or run "
                "`./manage.py cms sync_courses_to_richie --pending`."
                + (" Those do not force: to resend an unchanged payload, run "
                   "`./manage.py cms sync_courses_to_richie --force COURSE_KEY`." if force else ""),
                messages.ERROR,
            )
