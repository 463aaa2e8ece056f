"""Durable intent, coalescing, ordering, retries, sweep, deletion and enrollment throttling (in-process)."""

import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from opaque_keys.edx.keys import CourseKey

from openedx_richie_sync.data import ItemResult
from openedx_richie_sync.models import CourseRunSyncState, SyncStatus
from openedx_richie_sync.sync import deliver
from openedx_richie_sync.tasks import sweep, sync_course_run
from test_support import studio

from .helpers import delivery, make_course

pytestmark = pytest.mark.django_db
COURSE = "course-v1:DemoX+Demo101+2026"
LINK = f"https://lms.example.com/courses/{COURSE}/info"


def publish(course_id=COURSE, **fields):
    make_course(course_id, **fields)
    studio.publish(course_id)


def state(course_id=COURSE, instance="catalog"):
    return CourseRunSyncState.objects.get(course_id=course_id, instance=instance)


@pytest.mark.usefixtures("richie_sync", "django_capture_on_commit_callbacks")
def test_intent_is_recorded_only_when_the_change_commits():
    with pytest.raises(RuntimeError), transaction.atomic():
        publish()
        assert state().status == SyncStatus.PENDING
        raise RuntimeError("Studio's request failed")
    assert not CourseRunSyncState.objects.exists()


@pytest.mark.usefixtures("richie_sync")
def test_a_burst_of_publishes_gives_one_delivery_with_the_latest_data(
    receiver, published_tasks, django_capture_on_commit_callbacks
):
    for language in ("fr", "de", "es"):
        with django_capture_on_commit_callbacks(execute=True):
            publish(language=language)
    generations = [task["kwargs"]["generation"] for task in published_tasks]
    assert generations == [1, 2, 3]
    results = [sync_course_run.apply(kwargs=task["kwargs"]).get() for task in published_tasks]
    assert results == ["superseded", "superseded", "sent"]
    assert len(receiver.requests) == 1 and receiver.runs[LINK]["languages"] == ["es"]
    assert state().status == SyncStatus.SYNCED


@pytest.mark.usefixtures("richie_sync")
def test_a_duplicate_or_late_message_sends_nothing(receiver, published_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        publish()
    kwargs = published_tasks[0]["kwargs"]
    assert sync_course_run.apply(kwargs=kwargs).get() == "sent"
    assert sync_course_run.apply(kwargs=kwargs).get() == "unchanged"  # e.g. redelivered after a worker restart
    assert len(receiver.requests) == 1


@pytest.mark.usefixtures("richie_sync")
def test_a_publish_that_changes_nothing_richie_shows_sends_nothing(
    receiver, published_tasks, django_capture_on_commit_callbacks
):
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            publish(display_name="Renamed in Studio")  # not a field Richie reads
        assert sync_course_run.apply(kwargs=published_tasks[-1]["kwargs"]).get() in ("sent", "unchanged")
    assert len(receiver.requests) == 1 and state().status == SyncStatus.SYNCED


@pytest.mark.usefixtures("richie_sync", "course")
def test_two_deliveries_of_one_row_never_overlap(receiver):
    generation = CourseRunSyncState.objects.request(COURSE, "DemoX", ["catalog"], timezone.now())["catalog"]
    token = CourseRunSyncState.objects.lease(state(), 60)  # another delivery is under way
    outcome = deliver(COURSE, "catalog", generation)
    assert outcome.result == "busy" and 0 < outcome.retry_in <= 5
    assert receiver.requests == []
    CourseRunSyncState.objects.release(token, "catalog", [COURSE])
    assert deliver(COURSE, "catalog", generation).result == "sent"


@pytest.mark.usefixtures("richie_sync", "course")
def test_a_delivery_overtaken_by_a_newer_request_leaves_the_row_pending():
    CourseRunSyncState.objects.request(COURSE, "DemoX", ["catalog"], timezone.now())
    old = state()
    token = CourseRunSyncState.objects.lease(old, 60)
    CourseRunSyncState.objects.request(COURSE, "DemoX", ["catalog"], timezone.now())  # published meanwhile
    CourseRunSyncState.objects.finish(
        "catalog", [
            ItemResult(
                course_id=COURSE, org="DemoX", ok=True, payload_json="{}", payload_hash="hash-of-old", status=200,
                generation=old.generation, token=token,
            )
        ]
    )
    row = state()
    assert row.status == SyncStatus.PENDING and row.generation == old.generation + 1
    assert row.payload_hash == "hash-of-old" and row.lease_token == ""


@pytest.mark.usefixtures("course")
def test_transient_failures_retry_then_fail_retryable_then_the_sweep_recovers(richie_sync, receiver, caplog):
    receiver.fail_next(100, status=503)
    with caplog.at_level(logging.ERROR, logger="openedx_richie_sync"):
        assert sync_course_run.apply(args=(COURSE, "catalog")).get() == "failed"
    assert len(receiver.requests) == 1 + richie_sync["MAX_RETRIES"]
    row = state()
    assert (row.status, row.retryable, row.attempts, row.last_status) == (SyncStatus.FAILED, True, 4, 503)
    assert "Richie failed internally" in row.last_error and "The sweep retries it" in caplog.text

    receiver.reset()  # Richie is back
    assert sweep(pending_grace=0, retry_failed_after=3600) == {"queued": 0, "retried": 0, "refreshed": 0}  # not yet
    CourseRunSyncState.objects.update(last_attempt_at=timezone.now() - timedelta(hours=2))
    sweep(pending_grace=0, retry_failed_after=3600)
    row = state()
    assert row.status == SyncStatus.PENDING
    assert sync_course_run.apply(args=(COURSE, "catalog", row.generation)).get() == "sent"
    assert state().status == SyncStatus.SYNCED and LINK in receiver.runs


@pytest.mark.usefixtures("richie_sync", "course")
def test_permanent_failures_are_left_to_operators(receiver):
    receiver.set_known_course_codes(set())
    assert sync_course_run.apply(args=(COURSE, "catalog")).get() == "failed"
    CourseRunSyncState.objects.update(last_attempt_at=timezone.now() - timedelta(days=1))
    assert sweep(pending_grace=0, retry_failed_after=60)["retried"] == 0
    row = state()
    assert (row.status, row.retryable) == (SyncStatus.FAILED, False) and "Unknown course" in row.last_error


@pytest.mark.usefixtures("richie_sync", "settings")
def test_pending_left_by_a_broker_outage_is_delivered_by_the_command(receiver, django_capture_on_commit_callbacks):
    from test_support import celery_app  # pylint: disable=import-outside-toplevel

    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        with django_capture_on_commit_callbacks(execute=True):
            publish(language="fr")
    finally:
        celery_app.conf.broker_url = previous
    assert state().status == SyncStatus.PENDING and receiver.requests == []
    out = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("sync_courses_to_richie", "--pending", stdout=out)
    assert exit_.value.code == 0 and "Pending deliveries: 1 sent." in out.getvalue()
    assert receiver.runs[LINK]["languages"] == ["fr"] and state().status == SyncStatus.SYNCED


@pytest.mark.usefixtures("richie_sync", "course")
def test_the_sweep_requeues_overdue_pending_rows_only(published_tasks):
    CourseRunSyncState.objects.request(COURSE, "DemoX", ["catalog"], timezone.now() - timedelta(minutes=10))
    CourseRunSyncState.objects.request("course-v1:DemoX+Fresh+2026", "DemoX", ["catalog"], timezone.now())
    assert sweep(pending_grace=300, retry_failed_after=None) == {"queued": 1, "retried": 0, "refreshed": 0}
    assert [task["kwargs"] for task in published_tasks] == [delivery(COURSE, "catalog", 1)]


@pytest.mark.usefixtures("richie_sync")
def test_deleted_course_is_hidden_then_shown_again_when_recreated(
    receiver, published_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        publish()
    sync_course_run.apply(kwargs=published_tasks[-1]["kwargs"]).get()
    with django_capture_on_commit_callbacks(execute=True):
        studio.delete(COURSE)  # the platform's receiver deletes the overview row
    assert sync_course_run.apply(kwargs=published_tasks[-1]["kwargs"]).get() == "sent"
    assert receiver.requests[-1].json() == {"resource_link": LINK, "catalog_visibility": "hidden"}
    assert receiver.runs[LINK]["catalog_visibility"] == "hidden"
    with django_capture_on_commit_callbacks(execute=True):
        publish()
    assert sync_course_run.apply(kwargs=published_tasks[-1]["kwargs"]).get() == "sent"
    assert receiver.runs[LINK]["catalog_visibility"] == "course_and_search"


@pytest.mark.usefixtures("richie_sync")
def test_enrollment_changes_are_throttled(
    receiver, published_tasks, django_user_model, django_capture_on_commit_callbacks
):
    from common.djangoapps.student.models import CourseEnrollment  # pylint: disable=import-outside-toplevel

    course = make_course()
    sync_course_run.apply(args=(COURSE, "catalog")).get()  # Richie is up to date
    with django_capture_on_commit_callbacks(execute=True):
        for index in range(30):
            user = django_user_model.objects.create(username=f"learner{index}")
            CourseEnrollment.enroll(user, course.id)
        CourseEnrollment.unenroll(user, course.id)
    assert len(published_tasks) == 1  # one delivery for 31 changes
    eta = published_tasks[0]["headers"]["eta"]
    assert eta >= (state().last_success_at + timedelta(seconds=3599)).isoformat()[:19]
    assert sync_course_run.apply(kwargs=published_tasks[0]["kwargs"]).get() == "sent"
    assert receiver.runs[LINK]["enrollment_count"] == 29


@pytest.mark.parametrize("change", ["enroll", "unenroll", "deactivate", "reactivate", "update_enrollment"])
@pytest.mark.usefixtures("richie_sync")
def test_every_change_of_the_active_count_requests_an_update(
    receiver, published_tasks, django_user_model, django_capture_on_commit_callbacks, change
):
    """Re-activation sends no ENROLL_STATUS_CHANGE on the platform: the count must follow anyway."""
    from common.djangoapps.student.models import CourseEnrollment  # pylint: disable=import-outside-toplevel

    course = make_course()
    user = django_user_model.objects.create(username="learner")
    enrollment = CourseEnrollment.enroll(user, course.id)
    if change in ("reactivate", "update_enrollment"):
        enrollment.update_enrollment(is_active=False)
    sync_course_run.apply(args=(COURSE, "catalog")).get()  # Richie is up to date
    published_tasks.clear()
    expected = {"enroll": 1, "unenroll": 0, "deactivate": 0, "reactivate": 1, "update_enrollment": 1}[change]
    with django_capture_on_commit_callbacks(execute=True):
        if change == "enroll":
            CourseEnrollment.enroll(django_user_model.objects.create(username="second"), course.id)
            expected = 2
        elif change == "unenroll":
            CourseEnrollment.unenroll(user, course.id)
        elif change == "deactivate":
            enrollment.deactivate()
        elif change == "reactivate":
            enrollment.activate()
        else:
            enrollment.update_enrollment(is_active=True)
    assert len(published_tasks) == 1
    assert sync_course_run.apply(kwargs=published_tasks[0]["kwargs"]).get() == "sent"
    assert receiver.runs[LINK]["enrollment_count"] == expected


@pytest.mark.usefixtures("richie_sync")
def test_enrollment_events_of_ccx_courses_are_ignored(published_tasks, django_capture_on_commit_callbacks):
    from openedx_events.learning.data import CourseData, CourseEnrollmentData  # pylint: disable=import-outside-toplevel

    from openedx_richie_sync.signals import enrollment_changed  # pylint: disable=import-outside-toplevel

    ccx = CourseKey.from_string("ccx-v1:DemoX+Demo101+2026+ccx@1")
    with django_capture_on_commit_callbacks(execute=True):
        enrollment_changed(
            None,
            enrollment=CourseEnrollmentData(
                user=None, course=CourseData(course_key=ccx), mode="audit", is_active=True, creation_date=None
            ),
        )
        enrollment_changed(None, enrollment=None)
    assert published_tasks == [] and not CourseRunSyncState.objects.exists()


@pytest.mark.usefixtures("richie_sync", "course")
def test_resync_leaves_rows_being_delivered_to_the_publish_path(receiver):
    make_course("course-v1:DemoX+Other+2026")
    CourseRunSyncState.objects.request(COURSE, "DemoX", ["catalog"], timezone.now())  # a publish is on its way
    assert CourseRunSyncState.objects.lease(state(), 30)  # and its delivery is under way
    out = StringIO()
    call_command("sync_courses_to_richie", stdout=out)
    assert [item["resource_link"] for item in receiver.applied] == [LINK.replace("Demo101", "Other")]
    assert "sent 1, unchanged 0, failed 0, held by a delivery under way or another run 1" in out.getvalue()
    assert state().status == SyncStatus.PENDING


@pytest.mark.usefixtures("richie_sync", "course")
def test_resync_sends_a_pending_row_nobody_holds_and_its_task_then_stands_down(receiver):
    """Pending rows left by a killed run (or a publish whose task is still queued) are not 'under way'."""
    generation = CourseRunSyncState.objects.request(COURSE, "DemoX", ["catalog"], timezone.now())["catalog"]
    out = StringIO()
    call_command("sync_courses_to_richie", stdout=out)
    assert "sent 1, unchanged 0, failed 0 (" in out.getvalue() and state().status == SyncStatus.SYNCED
    assert deliver(COURSE, "catalog", generation).result == "unchanged" and len(receiver.requests) == 1


@pytest.mark.usefixtures("richie_sync", "course")
def test_resync_skips_a_row_whose_generation_moved_before_its_lease():
    CourseRunSyncState.objects.create(
        course_id=COURSE, org="DemoX", instance="catalog", status=SyncStatus.SYNCED, generation=4
    )
    token, leased = CourseRunSyncState.objects.lease_rows("catalog", {COURSE: 3}, 60)
    assert leased == set() and state().lease_token == ""
    token, leased = CourseRunSyncState.objects.lease_rows("catalog", {COURSE: 4}, 60)
    assert leased == {COURSE} and state().lease_token == token


@pytest.mark.usefixtures("richie_sync", "published_tasks", "course")
def test_the_sweep_says_when_nothing_consumes_the_queue(caplog):
    CourseRunSyncState.objects.request(COURSE, "DemoX", ["catalog"], timezone.now() - timedelta(minutes=5))
    with caplog.at_level(logging.ERROR, logger="openedx_richie_sync.tasks"):
        sweep(pending_grace=60, retry_failed_after=None)
    assert "does a worker consume" not in caplog.text  # 5 minutes late: a sweep's re-queue may still be on its way
    CourseRunSyncState.objects.update(due_at=timezone.now() - timedelta(minutes=20))
    with caplog.at_level(logging.ERROR, logger="openedx_richie_sync.tasks"):
        assert sweep(pending_grace=60, retry_failed_after=None)["queued"] == 1
    assert "1 deliveries are still pending more than 15 minutes" in caplog.text
    assert "'edx.cms.core.default': does a worker consume that queue?" in caplog.text


@pytest.mark.usefixtures("richie_sync", "receiver")
def test_an_enrollment_during_a_delivery_under_way_asks_for_another(
    published_tasks, django_user_model, django_capture_on_commit_callbacks
):
    """A delivery under way may have read the count before the enrollment committed: skipping would lose it."""
    from common.djangoapps.student.models import CourseEnrollment  # pylint: disable=import-outside-toplevel

    course = make_course()
    generation = CourseRunSyncState.objects.request(COURSE, "DemoX", ["catalog"], timezone.now())["catalog"]
    with django_capture_on_commit_callbacks(execute=True):  # pending, nobody delivering: it will read this change
        CourseEnrollment.enroll(django_user_model.objects.create(username="first"), course.id)
    assert published_tasks == [] and state().generation == generation
    assert CourseRunSyncState.objects.lease(state(), 30)  # a delivery is now under way
    with django_capture_on_commit_callbacks(execute=True):
        CourseEnrollment.enroll(django_user_model.objects.create(username="second"), course.id)
    assert state().generation == generation + 1 and len(published_tasks) == 1


@pytest.mark.usefixtures("richie_sync")
def test_request_delivers_the_first_change_at_once_and_coalesces_the_rest():
    """One upsert for all instances: leading edge, one trailing delivery, never behind a throttled update."""
    def due():
        now = timezone.now()
        requested = CourseRunSyncState.objects.request(COURSE, "DemoX", ["catalog"], now, now + timedelta(seconds=3))
        return (requested.due_at["catalog"] - now).total_seconds(), requested["catalog"]

    assert due() == (0, 1)  # a new row: at once
    assert 2.9 < due()[0] <= 3  # still pending, its delivery due or under way: one trailing delivery
    assert 2.8 < due()[0] <= 3  # a change within the window keeps that trailing delivery
    CourseRunSyncState.objects.update(due_at=timezone.now() + timedelta(hours=1))  # a throttled enrollment update
    assert 2.9 < due()[0] <= 3  # a publish does not wait behind it
    CourseRunSyncState.objects.update(status=SyncStatus.SYNCED, last_attempt_at=timezone.now() - timedelta(seconds=1))
    assert 1.9 < due()[0] <= 3  # delivered a second ago: the next change waits for the window
    CourseRunSyncState.objects.update(status=SyncStatus.SYNCED, last_attempt_at=timezone.now() - timedelta(seconds=10))
    assert due() == (0, 6)  # delivered long ago: at once again, generation after generation


def test_rows_a_resync_creates_leased_leave_existing_rows_untouched():
    """Two runs may create the same missing row: the second finds it there, neither takes nor changes it."""
    CourseRunSyncState.objects.request(COURSE, "DemoX", ["catalog"], timezone.now())
    existing = state()
    other = "course-v1:DemoX+Other+2026"
    token, leased = CourseRunSyncState.objects.lease_rows(
        "catalog", {COURSE: 0, other: 0}, 60, create=[(COURSE, "DemoX"), (other, "DemoX")]
    )
    assert leased == {other}
    assert state(other).lease_token == token and (state(other).status, state(other).generation) == (
        SyncStatus.PENDING,
        0,
    )
    row = state()
    assert (row.lease_token, row.generation, row.status, row.modified) == (
        "",
        existing.generation,
        existing.status,
        existing.modified,
    )
