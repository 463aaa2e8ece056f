"""
Studio's publish inside a transaction that stays open, while the rest of the system works.

Studio's publish runs inside the request's transaction (ATOMIC_REQUESTS), which can stay open
after the receivers ran. Meanwhile a worker delivers, a resync runs and a second publish of the
same course arrives: nothing may deadlock or fail, Studio's commits must succeed and Richie must
end with the latest data.

On SQLite (``make test``) an open write transaction blocks every other writer (busy timeout
30 s), so the others wait for Studio's commit: the test checks they wait and then succeed. On
MariaDB (``make test-mysql``) they run concurrently under row locks, as in production.
"""

import threading
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from openedx_richie_sync.models import CourseRunSyncState, SyncStatus
from test_support import studio

pytestmark = pytest.mark.integration

COURSE = "course-v1:DemoX+Txn101+2026"
OTHER = "course-v1:DemoX+Txn102+2026"
LINK = f"https://lms.example.com/courses/{COURSE}/info"
HOLD = 3.0  # seconds Studio's request keeps its transaction open after course_published


class Step(threading.Thread):
    """A request or command in its own thread, with its own database connection."""

    def __init__(self, name, function):
        super().__init__(name=name, daemon=True)
        self.function = function
        self.error = None
        self.result = None
        self.started_at = self.finished_at = None

    def run(self):
        self.started_at = time.monotonic()
        try:
            self.result = self.function()
        except BaseException as error:
            self.error = error
        finally:
            self.finished_at = time.monotonic()
            connection.close()


def resync():
    out = StringIO()
    call_command("sync_courses_to_richie", "--no-progress", stdout=out, stderr=out)
    return out.getvalue()


def test_slow_publish_transaction_with_worker_resync_and_second_publish(live, richie):
    studio.publish(COURSE, language="en", display_name="Transactions", start=None)
    studio.publish(OTHER, language="en")
    assert richie.wait_for(lambda r: LINK in r.runs, timeout=30), live.log_text[-3000:]

    slow = Step("studio-slow", lambda: studio.publish(COURSE, language="fr", hold=HOLD))
    slow.start()
    time.sleep(0.5)  # the slow request has run the receivers and holds its transaction
    studio.save_course(OTHER, language="it")
    other = Step("studio-other", lambda: studio.publish(OTHER))  # the worker will deliver this one
    command = Step("resync", resync)
    second = Step("studio-second", lambda: studio.publish(COURSE, language="de"))
    for step in (other, command, second):
        step.start()
        time.sleep(0.2)
    for step in (slow, other, command, second):
        step.join(60)
        assert not step.is_alive(), f"{step.name} is still running: deadlock?"
        assert step.error is None, f"{step.name} failed: {step.error!r}"

    assert slow.finished_at - slow.started_at >= HOLD  # Studio's commit succeeded after the hold
    assert "failed 0" in command.result, command.result

    def settled():
        return (
            richie.runs.get(LINK, {}).get("languages") == ["de"]
            and richie.runs.get(LINK.replace("Txn101", "Txn102"), {}).get("languages") == ["it"]
            and not CourseRunSyncState.objects.filter(status=SyncStatus.PENDING).exists()
        )

    deadline = time.monotonic() + 60
    while not settled() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert settled(), (richie.runs.get(LINK), list(CourseRunSyncState.objects.values()), live.log_text[-4000:])
    assert all(request.status == 200 for request in richie.requests), [r.status for r in richie.requests]
    assert "Traceback" not in live.log_text and "deadlock" not in live.log_text.lower(), live.log_text[-4000:]
