"""The delivery task, run in-process (``Task.apply``): retries, per-instance isolation, messages."""

import logging
from io import StringIO

import pytest

from openedx_richie_sync.models import CourseRunSyncState, SyncStatus
from openedx_richie_sync.tasks import sweep, sync_course_run

from .helpers import SECRET, instance_settings, make_course

LINK = "https://lms.example.com/courses/course-v1:DemoX+Demo101+2026/info"
COURSE = "course-v1:DemoX+Demo101+2026"

pytestmark = pytest.mark.django_db


def run_task(course_id=COURSE, instance="catalog"):
    return sync_course_run.apply(args=(course_id, instance)).get()


@pytest.mark.usefixtures("richie_sync", "course")
def test_sends_the_course_to_richie(receiver):
    assert run_task() == "sent"
    assert receiver.runs[LINK] == {
        "resource_link": LINK,
        "start": "2026-09-01T08:00:00Z",
        "end": "2026-12-20T18:00:00Z",
        "enrollment_start": "2026-06-01T00:00:00Z",
        "enrollment_end": "2026-09-15T00:00:00Z",
        "languages": ["en"],
        "enrollment_count": 0,
        "catalog_visibility": "course_and_search",
    }
    assert not receiver.naive_dates


@pytest.mark.usefixtures("richie_sync")
def test_counts_active_enrollments_only(receiver, course, django_user_model):
    from common.djangoapps.student.models import CourseEnrollment  # pylint: disable=import-outside-toplevel

    for index in range(3):
        user = django_user_model.objects.create(username=f"learner{index}")
        CourseEnrollment.enroll(user, course.id)
    CourseEnrollment.unenroll(user, course.id)
    run_task()
    assert receiver.runs[LINK]["enrollment_count"] == 2


@pytest.mark.usefixtures("richie_sync", "course")
def test_reads_the_course_when_it_runs(receiver):
    make_course(language="zh_CN", catalog_visibility="about")
    run_task()
    assert receiver.runs[LINK]["languages"] == ["zh-hans"]
    assert receiver.runs[LINK]["catalog_visibility"] == "course_only"


@pytest.mark.usefixtures("richie_sync", "course")
def test_transient_failures_are_retried_until_success(receiver):
    receiver.fail_next(2, status=503)
    assert run_task() == "sent"
    assert [request.status for request in receiver.requests] == [503, 503, 200]
    assert LINK in receiver.runs


@pytest.mark.usefixtures("course")
def test_gives_up_after_max_retries_with_advice(richie_sync, receiver, caplog):
    receiver.fail_next(10, status=500)
    with caplog.at_level(logging.INFO, logger="openedx_richie_sync"):
        assert run_task() == "failed"
    assert len(receiver.requests) == 1 + richie_sync["MAX_RETRIES"]
    final = caplog.records[-1]
    assert final.levelno == logging.ERROR
    assert COURSE in final.getMessage() and "'catalog'" in final.getMessage()
    assert "sync_courses_to_richie" in final.getMessage()


@pytest.mark.usefixtures("richie_sync", "course")
def test_rate_limit_is_retried(receiver):
    receiver.rate_limit_next(1, retry_after=0)
    assert run_task() == "sent"
    assert [request.status for request in receiver.requests] == [429, 200]


@pytest.mark.parametrize("secret, status, words", [("Wr0ng-S3cret-42", 401, "Invalid authentication.")])
@pytest.mark.usefixtures("course")
# pylint: disable-next=too-many-positional-arguments  # pytest passes fixtures by name
def test_wrong_secret_is_not_retried_and_logged(settings, receiver, caplog, secret, status, words):
    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url, secret=secret)], "MAX_RETRIES": 3}
    with caplog.at_level(logging.INFO, logger="openedx_richie_sync"):
        assert run_task() == "failed"
    assert [request.status for request in receiver.requests] == [status]
    message = caplog.records[-1].getMessage()
    assert f"status={status}" in message and words in message and COURSE in message and "catalog" in message
    assert "RICHIE_COURSE_RUN_SYNC_SECRETS" in message
    assert secret not in caplog.text


@pytest.mark.usefixtures("richie_sync", "course")
def test_unknown_course_is_not_retried_and_explained(receiver, caplog):
    receiver.set_known_course_codes({"SOMETHINGELSE"})
    with caplog.at_level(logging.INFO, logger="openedx_richie_sync"):
        assert run_task() == "failed"
    assert len(receiver.requests) == 1
    message = caplog.records[-1].getMessage()
    assert "Unknown course: DEMO101." in message and "create the course in Richie" in message


@pytest.mark.usefixtures("course")
def test_one_failing_instance_does_not_affect_the_healthy_one(settings, receiver, second_receiver):
    settings.RICHIE_SYNC = {
        "INSTANCES": [
            instance_settings("catalog", receiver.url),
            instance_settings("partner", second_receiver.url, secret="other-secret"),
        ],
        "MAX_RETRIES": 2,
        "RETRY_BACKOFF": 0.01,
    }
    second_receiver.fail_next(10, status=503)
    assert run_task(instance="partner") == "failed"
    assert run_task(instance="catalog") == "sent"
    assert len(receiver.requests) == 1 and receiver.runs[LINK]["languages"] == ["en"]
    assert len(second_receiver.requests) == 3 and second_receiver.runs == {}


@pytest.mark.usefixtures("course")
def test_org_allow_list(settings, receiver):
    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url, ORGS=["OtherX"])]}
    assert run_task() == "skipped"
    assert receiver.requests == []


@pytest.mark.usefixtures("richie_sync")
def test_missing_course_and_removed_instance_send_nothing(receiver, caplog):
    with caplog.at_level(logging.WARNING, logger="openedx_richie_sync"):
        assert run_task("course-v1:DemoX+Gone+2026") == "unchanged"  # Richie never had it: nothing to hide
        assert run_task(instance="removed") == "skipped"
    assert receiver.requests == []
    assert "'removed' does not serve it" in caplog.text


@pytest.mark.usefixtures("richie_sync", "course")
def test_no_secret_in_logs_even_at_debug(receiver, caplog):
    receiver.fail_next(1, status=503)
    with caplog.at_level(logging.DEBUG):
        run_task()
    assert caplog.records
    assert SECRET not in caplog.text


@pytest.mark.usefixtures("richie_sync")
def test_a_course_that_fails_to_load_is_a_permanent_explained_failure(receiver, course):
    """The platform raises OSError for a course it cannot load: not a task crash retried for ever."""
    from openedx.core.djangoapps.content.course_overviews.models import (  # pylint: disable=import-outside-toplevel
        CourseOverview,
    )
    from xmodule.modulestore.django import modulestore  # pylint: disable=import-outside-toplevel

    modulestore().break_course(course.id, "Invalid XML in the course's policy")
    CourseOverview.objects.filter(id=course.id).update(version=CourseOverview.VERSION - 1)  # so it is rebuilt
    assert sync_course_run.apply(args=(str(course.id), "catalog")).get() == "failed"
    state = CourseRunSyncState.objects.get()
    assert (state.status, state.retryable) == (SyncStatus.FAILED, False)
    assert "cannot load course" in state.last_error and "Invalid XML in the course's policy" in state.last_error
    assert "Studio" in state.last_error and receiver.requests == []
    assert sweep(pending_grace=0, retry_failed_after=0) == {"queued": 0, "retried": 0, "refreshed": 0}


def raising_hook(payload, *, course_run, instance_name):  # pylint: disable=unused-argument
    if course_run.course_id.endswith("Broken+2026"):
        raise ZeroDivisionError("pricing service down")
    return payload


def nan_hook(payload, *, course_run, instance_name):  # pylint: disable=unused-argument
    return {**payload, "price": float("nan")}


NOT_CALLABLE = 42


def test_a_hook_that_raises_is_retried_up_to_max_retries_then_fails_with_its_cause(settings, richie_sync, receiver):
    settings.RICHIE_SYNC = {**richie_sync, "PAYLOAD_HOOK": "tests.test_tasks.raising_hook"}
    make_course("course-v1:DemoX+Broken+2026")
    # An eager task runs its retries at once: MAX_RETRIES is 3 in these tests, so 4 attempts.
    assert sync_course_run.apply(args=("course-v1:DemoX+Broken+2026", "catalog")).get() == "failed"
    state = CourseRunSyncState.objects.get()
    assert (state.status, state.attempts, state.retryable) == (SyncStatus.FAILED, 4, False)
    assert "raised ZeroDivisionError: pricing service down" in state.last_error and receiver.requests == []
    assert sweep(pending_grace=0, retry_failed_after=0) == {"queued": 0, "retried": 0, "refreshed": 0}


@pytest.mark.parametrize(
    "hook, words",
    [
        ("tests.test_tasks.nan_hook", "not valid JSON"),
        ("tests.test_tasks.NOT_CALLABLE", "is not callable"),
        ("tests.no_such_module.hook", "cannot be imported"),
    ],
)
# pylint: disable-next=too-many-positional-arguments  # pytest passes fixtures and parameters by name
def test_a_broken_hook_is_a_permanent_failure_naming_it(settings, richie_sync, receiver, course, hook, words):
    settings.RICHIE_SYNC = {**richie_sync, "PAYLOAD_HOOK": hook}
    assert sync_course_run.apply(args=(str(course.id), "catalog")).get() == "failed"
    state = CourseRunSyncState.objects.get()
    assert state.status == SyncStatus.FAILED and words in state.last_error and hook in state.last_error
    assert receiver.requests == []  # nothing invalid was sent


def test_in_a_resync_a_raising_hook_fails_its_course_only(settings, richie_sync, receiver):
    from django.core.management import call_command  # pylint: disable=import-outside-toplevel

    settings.RICHIE_SYNC = {**richie_sync, "PAYLOAD_HOOK": "tests.test_tasks.raising_hook"}
    make_course("course-v1:DemoX+Broken+2026")
    make_course("course-v1:DemoX+Fine+2026")
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("sync_courses_to_richie", stdout=out)
    assert "sent 1" in out.getvalue() and "failed 1" in out.getvalue() and "pricing service down" in out.getvalue()
    assert list(receiver.runs) == ["https://lms.example.com/courses/course-v1:DemoX+Fine+2026/info"]


def bad_languages_hook(payload, *, course_run, instance_name):  # pylint: disable=unused-argument
    return {**payload, "languages": ["en-us"]}


def test_languages_a_hook_sets_wrong_are_blamed_on_the_hook_not_sent(settings, richie_sync, receiver, course):
    settings.RICHIE_SYNC = {**richie_sync, "PAYLOAD_HOOK": "tests.test_tasks.bad_languages_hook"}
    assert sync_course_run.apply(args=(str(course.id), "catalog")).get() == "failed"
    error = CourseRunSyncState.objects.get().last_error
    assert "PAYLOAD_HOOK tests.test_tasks.bad_languages_hook set languages ['en-us']" in error
    assert "LANGUAGE_MAPPING" not in error and receiver.requests == []


def test_a_retrying_delivery_is_not_due_for_the_sweep_before_its_retry(richie_sync, receiver, course):
    from datetime import timedelta  # pylint: disable=import-outside-toplevel

    from django.utils import timezone  # pylint: disable=import-outside-toplevel

    from openedx_richie_sync.sync import deliver  # pylint: disable=import-outside-toplevel

    richie_sync.update(RETRY_BACKOFF=60, RETRY_BACKOFF_MAX=60)
    receiver.rate_limit_next(1, retry_after=30)  # the retry is due in 30 s at least
    generation = CourseRunSyncState.objects.request(str(course.id), "DemoX", ["catalog"], timezone.now())["catalog"]
    outcome = deliver(str(course.id), "catalog", generation)
    assert outcome.result == "retrying"
    row = CourseRunSyncState.objects.get()
    assert row.status == SyncStatus.PENDING and row.due_at > timezone.now() + timedelta(seconds=25)
    assert not CourseRunSyncState.objects.due(grace_seconds=0).exists()


def test_tls_failure_is_permanent_with_advice(settings, receiver, course):
    # An https URL on a plain-HTTP port: the handshake fails before any certificate is seen.
    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url.replace("http://", "https://"))]}
    assert sync_course_run.apply(args=(str(course.id), "catalog")).get() == "failed"
    row = CourseRunSyncState.objects.get()
    assert row.retryable is False and "TLS handshake failed" in row.last_error and "serves plain HTTP" in row.last_error
