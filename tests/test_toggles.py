"""The pause switch (``toggles``): changes stay pending, then are delivered."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from openedx_richie_sync.models import CourseRunSyncState, SyncStatus
from openedx_richie_sync.tasks import sync_course_run

from .helpers import sweep_task_result

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("richie_sync")
def test_pause_keeps_changes_pending_then_delivers_them(receiver, course):
    from waffle.testutils import override_switch  # pylint: disable=import-outside-toplevel

    with override_switch("richie_sync.pause_deliveries", active=True):
        assert sync_course_run.apply(args=(str(course.id), "catalog")).get() == "paused"
        assert CourseRunSyncState.objects.get().status == SyncStatus.PENDING
        with pytest.raises(CommandError, match="paused"):
            call_command("sync_courses_to_richie", stdout=StringIO())
        assert sweep_task_result() == {"paused": True}
    assert receiver.requests == []
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("sync_courses_to_richie", "--pending", stdout=out)
    assert "1 sent" in out.getvalue() and len(receiver.requests) == 1
