"""
An interrupted resync strands nothing.

The command runs in its own process, against the Richie-compatible receiver, and is stopped the ways
cron, Kubernetes and the OOM killer stop it.
"""

import signal
import subprocess
import sys
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from openedx_richie_sync.models import CourseRunSyncState
from openedx_richie_sync.resync import RESYNC_LEASE_SECONDS
from test_support.services import ROOT, platform_environment

from .helpers import instance_settings, make_course

COURSES = [f"course-v1:DemoX+C{index}+2026" for index in range(6)]


def start_command(receiver, *args):
    """``sync_courses_to_richie`` in its own process, two runs per request, one request at a time."""
    env = platform_environment(
        {"INSTANCES": [instance_settings("catalog", receiver.url)]}, django_settings.DATABASES["default"]["NAME"]
    )
    return subprocess.Popen(
        [sys.executable, "-m", "django", "sync_courses_to_richie", "--batch-size", "2", "--concurrency", "1", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def held():
    return CourseRunSyncState.objects.exclude(lease_token="")


@pytest.fixture
def courses(transactional_db):  # pylint: disable=unused-argument
    """Committed, so that the command's own process sees them."""
    return [make_course(course_id) for course_id in COURSES]


@pytest.mark.parametrize("signum, status, name", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")])
@pytest.mark.usefixtures("courses")
def test_sigterm_and_sigint_release_what_the_run_holds_and_print_the_summary(receiver, signum, status, name):
    receiver.timeout_next(1, 3)  # the first request hangs: the run is caught in the middle
    command = start_command(receiver)
    wait_until(held().exists)
    command.send_signal(signum)
    out, err = command.communicate(timeout=60)
    assert command.returncode == status, err
    assert f"Interrupted by {name}" in err and "Traceback" not in err
    assert "catalog: sent 2, unchanged 0, failed 0" in out  # the request on the wire ended and was recorded
    assert not held().exists()  # nothing stays leased
    assert len(receiver.snapshot()) == 2

    rerun = start_command(receiver)
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    assert "sent 4, unchanged 2, failed 0 (" in out and len(receiver.snapshot()) == 6


@pytest.mark.usefixtures("courses")
def test_after_sigkill_the_rows_are_free_within_the_lease_and_the_next_run_sends_them(receiver):
    receiver.timeout_next(1, 30)
    command = start_command(receiver)
    wait_until(held().exists)
    killed_at = timezone.now()
    command.kill()
    command.communicate(timeout=30)
    assert held().count() == 6  # what the killed run held: every row of its first chunk
    bound = killed_at + timedelta(seconds=RESYNC_LEASE_SECONDS + 5)
    assert all(row.lease_until <= bound for row in held())  # free within RESYNC_LEASE_SECONDS, not a quarter of an hour

    CourseRunSyncState.objects.update(lease_until=timezone.now() - timedelta(seconds=1))  # that time has passed
    receiver.reset()
    rerun = start_command(receiver)
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    assert "sent 6, unchanged 0, failed 0 (" in out and "held by" not in out
    assert len(receiver.snapshot()) == 6


@pytest.mark.usefixtures("courses")
def test_a_long_run_renews_its_leases_so_they_never_lapse_under_it(settings, receiver, monkeypatch):
    """The lease is short (a killed run frees its rows soon), so a live run must keep extending it."""
    import threading  # pylint: disable=import-outside-toplevel

    from django.core.management import call_command  # pylint: disable=import-outside-toplevel
    from django.db import connection  # pylint: disable=import-outside-toplevel

    from openedx_richie_sync import resync  # pylint: disable=import-outside-toplevel

    # Renewed ten times per lease: a run on a busy machine keeps its rows; one that never renewed would lose them.
    monkeypatch.setattr(resync, "RESYNC_LEASE_SECONDS", 2)
    monkeypatch.setattr(resync, "LEASE_RENEW_SECONDS", 0.2)
    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url)]}
    receiver.timeout_next(1, 5)  # one request takes 2.5 leases
    lapsed, done = [], threading.Event()

    def watch():
        try:
            while not done.is_set():
                now = timezone.now()
                lapsed.extend(row.course_id for row in held() if row.lease_until < now)
                time.sleep(0.05)
        finally:
            connection.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        call_command("sync_courses_to_richie", "--batch-size", "2", "--concurrency", "1", stdout=StringIO())
    finally:
        done.set()
        watcher.join()
    assert not lapsed and len(receiver.snapshot()) == 6
