"""The sync-state admin: read-only pages, the resync actions, and no secret on any page."""

# pylint: disable=redefined-outer-name  # pytest passes fixtures by name

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from django.utils.html import escape

from openedx_richie_sync.models import CourseRunSyncState, SyncStatus

from .helpers import SECRET, delivery, instance_settings

pytestmark = pytest.mark.django_db

URL = "/admin/richie_sync/courserunsyncstate/"
SYNCED = "course-v1:DemoX+Demo101+2026"
FAILED = "course-v1:DemoX+Broken+2026"
OTHER_ORG = "course-v1:OtherU+Physics+2025"
CANARY = "SeCrEt-admin-canary-7f3a"
PAYLOAD = {
    "resource_link": f"https://lms.example.com/courses/{SYNCED}/info",
    "start": "2026-09-01T08:00:00Z",
    "languages": ["en", "fr"],
    "catalog_visibility": "course_and_search",
}
HASH = "3f2c9d1e7b6a" + "0" * 52
ERROR = "Richie answered 400: Unknown course code 'BROKEN'. " + "Create the course in Richie first, then resync. " * 3
MODEL_FIELDS = {field.name for field in CourseRunSyncState._meta.get_fields()}


def row(course_id, instance="catalog", **fields):
    values = {"org": course_id.split(":")[1].split("+")[0], "status": SyncStatus.SYNCED, "generation": 3}
    values.update(fields)
    return CourseRunSyncState.objects.create(course_id=course_id, instance=instance, **values)


@pytest.fixture
def rows():
    now = timezone.now()
    return {
        "synced": row(
            SYNCED, payload_hash=HASH, last_payload=json.dumps(PAYLOAD, separators=(",", ":")), last_status=200,
            last_attempt_at=now, last_success_at=now,
        ),
        "failed": row(
            FAILED, status=SyncStatus.FAILED, generation=5, attempts=4, last_status=400, last_error=ERROR,
            last_attempt_at=now - timedelta(minutes=5), last_payload='{"resource_link": "x"}',
        ),
        "other_org": row(OTHER_ORG, status=SyncStatus.PENDING, generation=1),
        "gone": row(SYNCED, instance="old-catalog", generation=7),  # removed from RICHIE_SYNC since
    }


@pytest.fixture
def with_canary(settings, richie_sync, receiver):
    """A second instance whose secret is easy to spot; it serves only OtherU."""
    partner = instance_settings("partner", receiver.url, secret=CANARY, ORGS=["OtherU"])
    settings.RICHIE_SYNC = {**richie_sync, "INSTANCES": [*richie_sync["INSTANCES"], partner]}
    return settings.RICHIE_SYNC


def listed(response):
    return [(state.course_id, state.instance) for state in response.context["cl"].result_list]


def assert_no_secret(response):
    content = response.content.decode()
    assert CANARY not in content and SECRET not in content


def run_action(client, action, *states):
    return client.post(
        URL, {"action": action, "_selected_action": [state.pk for state in states], "index": 0}, follow=True
    )


def shown_messages(response):
    return [(message.level_tag, str(message)) for message in response.context["messages"]]


# Changelist


@pytest.mark.usefixtures("richie_sync", "rows")
def test_changelist_shows_every_row_with_its_columns(admin_client):
    response = admin_client.get(URL)
    assert response.status_code == 200
    assert len(listed(response)) == 4
    content = response.content.decode()
    assert HASH[:12] in content and HASH[:13] not in content
    assert "Richie answered 400: Unknown course code" in content
    assert escape(ERROR) not in content and escape(ERROR[:79]) + "…" in content  # shortened to 80 characters
    assert 'class="field-status_display"' in content and ">Failed</strong>" in content


@pytest.mark.usefixtures("richie_sync", "rows")
def test_changelist_filters_by_status_instance_and_org(admin_client):
    assert listed(admin_client.get(URL, {"status__exact": "failed"})) == [(FAILED, "catalog")]
    assert listed(admin_client.get(URL + "?status__exact=pending")) == [(OTHER_ORG, "catalog")]
    assert listed(admin_client.get(URL, {"instance": "old-catalog"})) == [(SYNCED, "old-catalog")]
    assert listed(admin_client.get(URL, {"org": "OtherU"})) == [(OTHER_ORG, "catalog")]
    content = admin_client.get(URL).content.decode()
    assert "?instance=old-catalog" in content and "?org=OtherU" in content  # filter choices come from the table


@pytest.mark.usefixtures("richie_sync", "rows")
def test_changelist_search_by_course_key_and_org(admin_client):
    assert listed(admin_client.get(URL, {"q": "Demo101"})) == [(SYNCED, "catalog"), (SYNCED, "old-catalog")]
    assert listed(admin_client.get(URL, {"q": FAILED})) == [(FAILED, "catalog")]
    assert listed(admin_client.get(URL, {"q": "otheru"})) == [(OTHER_ORG, "catalog")]
    assert listed(admin_client.get(URL, {"q": "NoSuchCourse"})) == []


# Change page


@pytest.mark.usefixtures("richie_sync")
def test_change_page_is_read_only_and_shows_the_payload_and_richies_error(admin_client, rows):
    response = admin_client.get(f"{URL}{rows['synced'].pk}/change/")
    assert response.status_code == 200
    content = response.content.decode()
    pretty = json.dumps(PAYLOAD, indent=2).replace('"', "&quot;")
    assert "<pre" in content and pretty in content
    assert HASH in content
    for legend in ("Course run", "State", "Last attempt", "Richie&#x27;s copy", "Internals"):
        assert legend in content
    assert "the next resync sends the course again" in content

    content = admin_client.get(f"{URL}{rows['failed'].pk}/change/").content.decode()
    assert "Unknown course code &#x27;BROKEN&#x27;" in content and "Create the course in Richie first" in content

    editable = set(re.findall(r'<(?:input|textarea|select)[^>]*\bname="([^"]+)"', content))
    assert editable <= {"csrfmiddlewaretoken"} and not editable & MODEL_FIELDS
    assert 'name="_save"' not in content


@pytest.mark.usefixtures("richie_sync")
def test_a_change_post_changes_nothing(admin_client, rows):
    state = rows["failed"]
    response = admin_client.post(f"{URL}{state.pk}/change/", {"status": "synced", "generation": 99, "last_error": ""})
    assert response.status_code == 403
    state.refresh_from_db()
    assert (state.status, state.generation, state.last_error) == (SyncStatus.FAILED, 5, ERROR)


@pytest.mark.usefixtures("richie_sync")
def test_no_add_page(admin_client):
    assert admin_client.get(f"{URL}add/").status_code == 403
    assert (
        admin_client.post(f"{URL}add/", {"course_id": SYNCED, "instance": "catalog", "org": "DemoX"}).status_code == 403
    )
    assert not CourseRunSyncState.objects.exists()


@pytest.mark.usefixtures("richie_sync")
def test_only_superusers_delete(admin_client, client, django_user_model, rows):
    staff = django_user_model.objects.create_user("operator", password="pw", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="richie_sync"))
    client.force_login(staff)
    state = rows["gone"]
    assert client.get(f"{URL}{state.pk}/change/").status_code == 200  # staff may look
    assert client.get(f"{URL}{state.pk}/delete/").status_code == 403
    assert "delete_selected" not in client.get(URL).content.decode()

    assert admin_client.post(f"{URL}{state.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not CourseRunSyncState.objects.filter(pk=state.pk).exists()


# Actions


@pytest.mark.parametrize("action, extra", [("resync_now", []), ("force_resync", [True])])
@pytest.mark.usefixtures("with_canary")
# pylint: disable-next=too-many-positional-arguments  # pytest passes fixtures by name
def test_resync_actions_request_and_queue_one_task_per_row(
    action, extra, admin_client, rows, published_tasks, django_capture_on_commit_callbacks
):
    selected = (rows["synced"], rows["failed"], rows["gone"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = run_action(admin_client, action, *selected)
        assert published_tasks == []  # nothing is queued before the request commits
    assert response.status_code == 200 and len(callbacks) == 1
    assert sorted(task["kwargs"].items() for task in published_tasks) == sorted(
        [delivery(FAILED, "catalog", 6, *extra).items(), delivery(SYNCED, "catalog", 4, *extra).items()]
    )
    assert {task["task"] for task in published_tasks} == {"openedx_richie_sync.tasks.sync_course_run"}
    for state, generation in ((rows["synced"], 4), (rows["failed"], 6)):
        state.refresh_from_db()
        assert (state.status, state.generation) == (SyncStatus.PENDING, generation)
        assert state.due_at <= timezone.now()
    gone = rows["gone"]
    gone.refresh_from_db()
    assert (gone.status, gone.generation) == (SyncStatus.SYNCED, 7)  # skipped, untouched
    [(level, text)] = shown_messages(response)
    assert level == "warning" and f"{SYNCED} → old-catalog" in text and "no longer configured" in text
    assert_no_secret(response)


@pytest.mark.usefixtures("rows")
def test_rows_of_a_disabled_instance_or_an_org_it_no_longer_serves_are_skipped(
    admin_client, settings, with_canary, published_tasks, django_capture_on_commit_callbacks
):
    off = row(SYNCED, instance="paused")
    paused = instance_settings("paused", "https://richie.example.com/api/v1.0/course-runs-sync", ENABLED=False)
    settings.RICHIE_SYNC = {**with_canary, "INSTANCES": [*with_canary["INSTANCES"], paused]}
    not_served = row(SYNCED, instance="partner")  # partner serves OtherU only
    served = row(OTHER_ORG, instance="partner", generation=2)
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, "resync_now", off, not_served, served)
    assert [task["kwargs"] for task in published_tasks] == [delivery(OTHER_ORG, "partner", 3)]
    [(level, text)] = shown_messages(response)
    assert level == "warning" and "Skipped 2 row(s)" in text
    assert f"{SYNCED} → paused" in text and f"{SYNCED} → partner" in text
    assert CourseRunSyncState.objects.get(pk=off.pk).status == SyncStatus.SYNCED
    assert_no_secret(response)


@pytest.mark.usefixtures("with_canary")
def test_one_course_on_two_instances_is_queued_once_per_instance(
    admin_client, published_tasks, django_capture_on_commit_callbacks
):
    first, second = row(OTHER_ORG), row(OTHER_ORG, instance="partner", generation=0)
    with django_capture_on_commit_callbacks(execute=True):
        run_action(admin_client, "resync_now", first, second)
    assert [task["kwargs"] for task in sorted(published_tasks, key=lambda task: task["kwargs"]["instance_name"])] == [
        delivery(OTHER_ORG, "catalog", 4), delivery(OTHER_ORG, "partner", 1)
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("with_canary")
def test_the_success_message_counts_queued_deliveries(admin_client, rows, published_tasks):
    response = run_action(admin_client, "force_resync", rows["synced"], rows["other_org"], rows["gone"])
    assert len(published_tasks) == 2
    levels = dict(shown_messages(response))
    assert "Skipped 1 row(s)" in levels["warning"]
    assert levels["success"] == "Queued 2 Richie forced deliveries."
    assert_no_secret(response)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("richie_sync", "published_tasks")
def test_a_broker_outage_leaves_the_rows_pending_and_says_how_to_deliver_them(admin_client, rows):
    from test_support import celery_app  # pylint: disable=import-outside-toplevel

    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        response = run_action(admin_client, "resync_now", rows["failed"])
    finally:
        celery_app.conf.broker_url = previous
    levels = dict(shown_messages(response))
    assert levels["success"] == "Queued 0 Richie deliveries."
    assert "recorded as pending" in levels["error"] and "sync_courses_to_richie --pending" in levels["error"]
    assert f"{FAILED} → catalog" in levels["error"]
    state = rows["failed"]
    state.refresh_from_db()
    assert (state.status, state.generation) == (SyncStatus.PENDING, 6)


# Secrets


@pytest.mark.usefixtures("with_canary")
def test_no_page_shows_a_secret(admin_client, rows, settings):
    catalog, *others = settings.RICHIE_SYNC["INSTANCES"]
    settings.RICHIE_SYNC = {**settings.RICHIE_SYNC, "INSTANCES": [{**catalog, "SECRET": CANARY + "-catalog"}, *others]}
    pages = ["/admin/", "/admin/richie_sync/", URL, f"{URL}?status__exact=failed", f"{URL}?q=DemoX"]
    pages += [f"{URL}{state.pk}/change/" for state in rows.values()]
    pages += [f"{URL}{rows['gone'].pk}/delete/"]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        assert_no_secret(response)
    for action in ("resync_now", "force_resync"):
        assert_no_secret(run_action(admin_client, action, *rows.values()))


@pytest.mark.usefixtures("rows")
def test_changelist_shows_configuration_errors_as_a_banner(admin_client, settings):
    settings.RICHIE_SYNC = {
        "INSTANCES": [
            instance_settings("catalog", "https://richie.example.com/api/v1.0/course-runs-sync", secret=CANARY),
            {"NAME": "broken", "URL": "https://richie.example.com/api/v1.0/course-runs-sync"},
        ],
    }
    content = admin_client.get(URL).content.decode()
    assert "richie_sync.E005" in content and escape("'broken' has no SECRET") in content
    assert CANARY not in content
