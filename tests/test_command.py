"""``sync_courses_to_richie``: options, batching, change detection, exit statuses, output."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from openedx_richie_sync.models import CourseRunSyncState, SyncStatus
from test_support.richie_receiver import RichieReceiver

from .helpers import SECRET, instance_settings, make_course, site_configuration

pytestmark = pytest.mark.django_db


def link(course_id):
    return f"https://lms.example.com/courses/{course_id}/info"


def make_courses(count, org="DemoX", **fields):
    return [make_course(f"course-v1:{org}+C{index:03d}+2026", **fields) for index in range(count)]


def sync(*args):
    """Run the command; return (exit status, stdout)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("sync_courses_to_richie", *args, stdout=out, stderr=err)
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    except CommandError as error:
        status = error.returncode
        err.write(str(error))
    return status, out.getvalue() + err.getvalue()


@pytest.mark.usefixtures("richie_sync")
def test_syncs_every_course_in_batches(receiver):
    courses = make_courses(25)
    status, output = sync("--batch-size", "10")
    assert status == 0, output
    assert set(receiver.runs) == {link(str(course.id)) for course in courses}
    assert len(receiver.requests) == 3
    assert all(isinstance(request.json(), list) for request in receiver.requests)
    assert "catalog: sent 25, unchanged 0, failed 0 (3 HTTP requests)" in output
    assert CourseRunSyncState.objects.filter(status=SyncStatus.SYNCED).count() == 25


@pytest.mark.usefixtures("richie_sync")
def test_rerun_without_changes_sends_nothing(receiver):
    make_courses(12)
    assert sync()[0] == 0
    receiver.reset()
    status, output = sync()
    assert status == 0 and receiver.requests == []
    assert "catalog: sent 0, unchanged 12, failed 0 (0 HTTP requests)" in output


@pytest.mark.usefixtures("richie_sync")
def test_only_changed_courses_are_sent_and_force_sends_all(receiver):
    courses = make_courses(5)
    sync()
    make_course(str(courses[2].id), language="fr")
    receiver.reset()
    assert sync()[0] == 0
    assert [item["resource_link"] for request in receiver.requests for item in request.json()] == [
        link(str(courses[2].id))
    ]
    receiver.reset()
    status, output = sync("--force")
    assert status == 0 and len(receiver.applied) == 5
    assert "sent 5, unchanged 0" in output


@pytest.mark.usefixtures("richie_sync")
def test_publish_path_uses_the_same_record(receiver):
    from openedx_richie_sync.tasks import sync_course_run  # pylint: disable=import-outside-toplevel

    (course,) = make_courses(1)
    sync()
    receiver.reset()
    assert sync_course_run.apply(args=(str(course.id), "catalog")).get() == "unchanged"
    assert receiver.requests == []


def test_course_arguments_org_and_instance(settings, receiver, second_receiver):
    settings.RICHIE_SYNC = {
        "INSTANCES": [
            instance_settings("catalog", receiver.url),
            instance_settings("partner", second_receiver.url, secret="other-secret"),
        ]
    }
    demo = make_courses(3)
    other = make_courses(2, org="OtherX")
    status, _ = sync(str(demo[0].id), "--course_id", str(other[1].id), "--instance", "partner")
    assert status == 0 and receiver.requests == []
    assert set(second_receiver.runs) == {link(str(demo[0].id)), link(str(other[1].id))}
    second_receiver.reset()
    assert sync("--org", "otherx")[0] == 0
    assert set(receiver.runs) == {link(str(course.id)) for course in other}
    assert len(second_receiver.applied) == 1  # other[0]; other[1] was already there


@pytest.mark.parametrize(
    "args, words",
    [
        (["--instance", "nope"], "Unknown or disabled Richie instance(s): nope"),
        (["not-a-key"], "'not-a-key' is not a course run key"),
        (["--batch-size", "0"], "--batch-size and --concurrency must be at least 1"),
    ],
)
@pytest.mark.usefixtures("richie_sync")
def test_usage_errors_exit_2(receiver, args, words):
    status, output = sync(*args)
    assert status == 2 and words in output
    assert receiver.requests == []


def test_configuration_error_exits_2(settings, receiver):
    settings.RICHIE_SYNC = {"INSTANCES": [{"NAME": "catalog", "URL": receiver.url}]}
    status, output = sync()
    assert status == 2 and "'catalog' has no SECRET" in output and "manage.py cms check" in output


@pytest.mark.usefixtures("richie_sync")
def test_dry_run_prints_json_lines_and_sends_nothing(receiver):
    courses = make_courses(3, language="es-419")
    status, output = sync("--dry-run")
    assert status == 0 and receiver.requests == []
    lines = [json.loads(line) for line in output.splitlines()]
    assert [line["payload"]["resource_link"] for line in lines] == [link(str(course.id)) for course in courses]
    assert all(line["instance"] == "catalog" and line["payload"]["languages"] == ["es"] for line in lines)
    assert not CourseRunSyncState.objects.exists()


@pytest.mark.usefixtures("richie_sync")
def test_partial_batch_failure_fails_only_rejected_items(receiver):
    make_courses(4)
    orphan = make_course("course-v1:DemoX+Orphan+2026")
    receiver.set_known_course_codes({f"C{index:03d}" for index in range(4)})
    status, output = sync()
    assert status == 1
    assert len(receiver.requests) == 1 and receiver.requests[0].status == 400
    assert len(receiver.runs) == 4 and link(str(orphan.id)) not in receiver.runs
    assert "sent 4, unchanged 0, failed 1" in output
    assert f"FAILED {orphan.id}: HTTP 400: resource_link: Unknown course: ORPHAN." in output
    assert "create the course in Richie" in output
    state = CourseRunSyncState.objects.get(course_id=orphan.id)
    assert state.status == SyncStatus.FAILED and "Unknown course: ORPHAN" in state.last_error and state.attempts == 1


@pytest.mark.usefixtures("richie_sync")
def test_failed_resends_only_failed_pairs(receiver):
    make_courses(3)
    orphan = make_course("course-v1:DemoX+Orphan+2026")
    receiver.set_known_course_codes({"C000", "C001", "C002"})
    assert sync()[0] == 1
    receiver.add_known_courses("ORPHAN")
    receiver.reset()
    status, output = sync("--failed")
    assert status == 0, output
    assert [item["resource_link"] for item in receiver.applied] == [link(str(orphan.id))]
    assert CourseRunSyncState.objects.get(course_id=orphan.id).status == SyncStatus.SYNCED
    assert sync("--failed") == (0, "No failed course run to resync.\n")


@pytest.mark.usefixtures("richie_sync")
def test_batch_failing_as_a_whole_is_split(receiver):
    make_courses(8)
    receiver.fail_next(1, status=500)
    status, output = sync("--batch-size", "8")
    assert status == 0, output
    assert [len(request.json()) for request in receiver.requests] == [8, 4, 4]
    assert len(receiver.runs) == 8


@pytest.mark.usefixtures("richie_sync")
def test_transient_batch_failure_is_retried(receiver):
    make_courses(3)
    receiver.fail_next(2, status=503)
    status, _ = sync()
    assert status == 0
    assert [request.status for request in receiver.requests] == [503, 503, 200]


def test_wrong_secret_stops_the_instance_and_records_failures(settings, receiver):
    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url, secret="not-it")]}
    make_courses(30)
    status, output = sync("--batch-size", "5", "--concurrency", "1")
    assert status == 1
    assert len(receiver.requests) == 1  # stops right after the first refusal
    assert "stopped: HTTP 401: Invalid authentication. SECRET does not match" in output
    assert CourseRunSyncState.objects.filter(status=SyncStatus.FAILED).count() == 30
    assert "not-it" not in output


def test_check_reports_each_instance(settings, receiver):
    with RichieReceiver(secrets=("other",)) as wrong_secret:
        settings.RICHIE_SYNC = {
            "INSTANCES": [
                instance_settings("good", receiver.url),
                instance_settings("secret", wrong_secret.url),
                instance_settings("path", receiver.base_url + "/api/v1.0/nothing-here"),
                instance_settings("version", receiver.base_url + "/api/v2.0/course-runs-sync"),
                instance_settings("down", "http://127.0.0.1:9/api/v1.0/course-runs-sync"),
            ]
        }
        status, output = sync("--check")
    assert status == 1
    lines = dict(line.split(": ", 1) for line in output.splitlines())
    assert lines["good"].startswith("OK")
    assert lines["secret"].startswith("WRONG SECRET") and "RICHIE_COURSE_RUN_SYNC_SECRETS" in lines["secret"]
    assert lines["path"].startswith("MISSING ENDPOINT")
    assert lines["version"].startswith("REDIRECT") and "/en/api/v2.0/course-runs-sync/" in lines["version"]
    assert lines["down"].startswith("UNREACHABLE")
    assert receiver.runs == {}


@pytest.mark.usefixtures("richie_sync")
def test_check_all_ok_exits_0(receiver):
    status, output = sync("--check")
    assert status == 0
    assert output.splitlines()[0] == f"catalog: OK ({receiver.url} accepted a signed request)"
    assert output.splitlines()[1].startswith("catalog (resource link): OK — Richie's COURSE_REGEX matches ")


@pytest.mark.usefixtures("richie_sync")
def test_async_queues_batches_per_instance(receiver, published_tasks):
    courses = make_courses(5)
    status, output = sync("--async", "--batch-size", "2", "--force")
    assert status == 0 and "Queued 3 Celery task(s)" in output
    assert [task["task"] for task in published_tasks] == ["openedx_richie_sync.tasks.sync_course_runs"] * 3
    assert [task["kwargs"]["course_ids"] for task in published_tasks] == [
        [str(courses[0].id), str(courses[1].id)], [str(courses[2].id), str(courses[3].id)], [str(courses[4].id)]
    ]
    assert all(
        task["kwargs"] | {"course_ids": None}
        == {"course_ids": None, "instance_name": "catalog", "force": True, "only_failed": False}
        for task in published_tasks
    )
    assert receiver.requests == []


@pytest.mark.usefixtures("richie_sync")
def test_async_task_runs_the_same_resync(receiver):
    from openedx_richie_sync.tasks import sync_course_runs  # pylint: disable=import-outside-toplevel

    courses = make_courses(3)
    ids = [str(course.id) for course in courses]
    assert sync_course_runs.apply(args=(ids, "catalog")).get() == {"sent": 3, "unchanged": 0, "failed": 0}
    assert sync_course_runs.apply(args=(ids, "catalog")).get() == {"sent": 0, "unchanged": 3, "failed": 0}
    assert len(receiver.requests) == 1


@pytest.mark.usefixtures("richie_sync", "receiver")
def test_no_progress_bar_when_not_a_terminal():
    make_courses(2)
    _, output = sync()
    assert "[#" not in output and "courses," not in output


class Terminal(StringIO):
    def isatty(self):
        return True


@pytest.mark.usefixtures("richie_sync", "receiver")
def test_progress_bar_on_a_terminal():
    make_courses(3)
    terminal = Terminal()
    call_command("sync_courses_to_richie", stdout=StringIO(), stderr=terminal)
    assert "] 3/3 courses" in terminal.getvalue() and "[" + "#" * 30 + "]" in terminal.getvalue()


@pytest.mark.usefixtures("richie_sync")
def test_summary_reports_rate_and_failures_are_capped(receiver):
    make_courses(60)
    receiver.set_known_course_codes(set())
    status, output = sync("--batch-size", "100")
    assert status == 1
    assert "60 course run(s) in " in output and "/s)" in output
    assert output.count("FAILED course-v1:") == 50
    assert "... and 10 more (see the admin, or rerun with --failed)" in output


def test_configuration_error_skips_only_the_bad_instance(settings, receiver):
    settings.RICHIE_SYNC = {
        "INSTANCES": [instance_settings("catalog", receiver.url), {"NAME": "broken", "URL": receiver.url}],
    }
    make_courses(2)
    status, output = sync()
    assert status == 2 and "'broken' has no SECRET" in output and "manage.py cms check" in output
    assert "catalog: sent 2" in output and len(receiver.snapshot()) == 2  # the healthy instance was served


@pytest.mark.parametrize("mode", ["--check", "--status"])
def test_check_and_status_show_configuration_errors_and_exit_non_zero(settings, receiver, mode):
    settings.RICHIE_SYNC = {
        "INSTANCES": [
            instance_settings("catalog", receiver.url),
            {"NAME": "broken", "URL": receiver.url, "SECRET": "x", "TIMEOUT": 0},
        ],
    }
    status, output = sync(mode)
    assert status == 2 and "richie_sync.E007" in output and "'broken' TIMEOUT" in output


@pytest.mark.parametrize(
    "args, words",
    [
        (["course-v1:DemoX+Nope+2026"], "No course run course-v1:DemoX+Nope+2026 on this platform"),
        (["--org", "NoSuchOrg"], "No course run of organisation 'NoSuchOrg'"),
        (["--status", "--instance", "nope"], "Unknown Richie instance(s): nope"),
        (["--batch-size", str(10**20)], "at most 1000 (--batch-size)"),
        (["--concurrency", str(10**20)], "32 (--concurrency)"),
        (["--pending", "--async", "--org", "DemoX"], "it takes no course key nor --org"),
    ],
)
@pytest.mark.usefixtures("richie_sync")
def test_selections_that_match_nothing_and_bad_combinations_exit_2(receiver, args, words):
    make_courses(1)
    status, output = sync(*args)
    assert status == 2 and words in output
    assert receiver.requests == []


@pytest.mark.usefixtures("richie_sync")
def test_pending_delivers_only_the_selected_courses(receiver):
    first, second = make_courses(2)
    for course in (first, second):
        CourseRunSyncState.objects.request(str(course.id), "DemoX", ["catalog"], timezone.now())
    status, output = sync("--pending", str(first.id))
    assert status == 0 and "1 sent" in output
    assert set(receiver.runs) == {link(str(first.id))}
    assert CourseRunSyncState.objects.get(course_id=str(second.id)).status == SyncStatus.PENDING


@pytest.mark.parametrize("args", [["--check", "--dry-run"], ["--status", "--pending"], ["--pending", "--check"]])
@pytest.mark.usefixtures("richie_sync")
def test_modes_are_mutually_exclusive(receiver, capsys, args):
    # pylint: disable-next=import-outside-toplevel
    from openedx_richie_sync.management.commands.sync_courses_to_richie import Command

    with pytest.raises(SystemExit) as exit_:
        Command().run_from_argv(["manage.py", "sync_courses_to_richie", *args])
    assert exit_.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    assert receiver.requests == []


@pytest.mark.usefixtures("richie_sync")
def test_resync_rebuilds_outdated_overviews_and_reports_courses_that_fail_to_load(receiver):
    """get_all_courses returns rows as stored; the platform rebuilds an outdated row before trusting it."""
    from openedx.core.djangoapps.content.course_overviews.models import (  # pylint: disable=import-outside-toplevel
        CourseOverview,
    )
    from xmodule.modulestore.django import modulestore  # pylint: disable=import-outside-toplevel

    current, outdated, broken = make_courses(3)
    modulestore().save_course(outdated.id, language="fr")  # what Studio holds now
    modulestore().break_course(broken.id, "Invalid XML")
    CourseOverview.objects.filter(id__in=[outdated.id, broken.id]).update(version=CourseOverview.VERSION - 1)
    status, output = sync()
    assert status == 1 and "sent 2" in output and "failed 1" in output
    assert f"FAILED {broken.id}: the platform cannot load course {broken.id} (" in output and "Invalid XML" in output
    assert receiver.runs[link(str(outdated.id))]["languages"] == ["fr"]
    assert receiver.runs[link(str(current.id))]["languages"] == ["en"]
    assert CourseOverview.objects.get(id=outdated.id).version == CourseOverview.VERSION


@pytest.mark.usefixtures("richie_sync")
def test_status_counts_per_instance(receiver):
    make_course("course-v1:DemoX+Ok+2026")
    make_course("course-v1:DemoX+Orphan+2026")
    receiver.set_known_course_codes({"OK"})
    with pytest.raises(SystemExit):
        call_command("sync_courses_to_richie", stdout=StringIO())
    out = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("sync_courses_to_richie", "--status", stdout=out)
    assert exit_.value.code == 1
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["instance", "pending", "synced", "failed"]
    assert lines[1].split() == ["catalog", "0", "1", "1"]


def test_command_finds_instances_declared_only_in_site_configuration(settings, receiver):
    settings.RICHIE_SYNC = {"INSTANCES": []}
    site_configuration(
        "OrgS", RICHIE_SYNC={"INSTANCES": [{"NAME": "orgs-richie", "URL": receiver.url, "SECRET": SECRET}]}
    )
    make_course("course-v1:OrgS+S1+2026")
    out = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("sync_courses_to_richie", "--check", stdout=out)
    assert exit_.value.code == 0 and out.getvalue().startswith("orgs-richie: OK")
    out = StringIO()
    call_command("sync_courses_to_richie", stdout=out)
    assert "orgs-richie: sent 1" in out.getvalue() and len(receiver.runs) == 1


@pytest.mark.usefixtures("richie_sync")
def test_dry_run_wins_over_async(receiver, published_tasks):
    make_course()
    out = StringIO()
    call_command("sync_courses_to_richie", "--dry-run", "--async", stdout=out)
    assert published_tasks == [] and receiver.requests == []
    assert '"instance":"catalog"' in out.getvalue()
