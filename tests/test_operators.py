"""Operators' features: multi-site routing, the earlier plugin's settings, prices, pause switch, checks, --status."""

import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.sites.models import Site
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from openedx_richie_sync.checks import check_earlier_plugin, check_richie_sync_configuration
from openedx_richie_sync.configuration import from_legacy, get_config, parse
from openedx_richie_sync.models import CourseRunSyncState, SyncStatus
from openedx_richie_sync.payload import price_fields
from openedx_richie_sync.routing import Router, clear_route_cache
from openedx_richie_sync.tasks import sweep, sync_course_run

from .conftest import SECRET, instance_settings, make_course

pytestmark = pytest.mark.django_db


def site_configuration(org, **values):
    from openedx.core.djangoapps.site_configuration.models import SiteConfiguration  # pylint: disable=import-outside-toplevel

    site = Site.objects.create(domain=f"{org.lower()}.example.com", name=org)
    return SiteConfiguration.objects.create(site=site, enabled=True, site_values={"course_org_filter": [org], **values})


@pytest.fixture
def two_instances(settings, receiver, second_receiver):
    settings.RICHIE_SYNC = {
        "INSTANCES": [
            instance_settings("catalog", receiver.url),
            instance_settings("partner", second_receiver.url, secret="other-secret", ENABLED=True, ORGS=["nobody"]),
        ],
        "MAX_RETRIES": 0,
    }
    return settings.RICHIE_SYNC


def link(course_id, root="https://lms.example.com"):
    return f"{root}/courses/{course_id}/info"


# -- multi-site -------------------------------------------------------------------------------


def test_org_without_site_configuration_uses_global_instances(two_instances):  # pylint: disable=unused-argument
    assert Router().for_org("DemoX").names() == ["catalog"]


def test_org_can_name_its_own_instances(two_instances, receiver, second_receiver):
    site_configuration("OrgA", RICHIE_SYNC={"INSTANCES": ["partner"]})
    make_course("course-v1:OrgA+A1+2026")
    assert Router().for_org("OrgA").names() == ["partner"]  # even though partner's ORGS do not list it
    assert sync_course_run.apply(args=("course-v1:OrgA+A1+2026", "partner")).get() == "sent"
    assert sync_course_run.apply(args=("course-v1:OrgA+A1+2026", "catalog")).get() == "skipped"
    assert list(second_receiver.runs) == [link("course-v1:OrgA+A1+2026")] and receiver.requests == []


def test_org_can_be_excluded(two_instances, receiver):
    site_configuration("OrgB", RICHIE_SYNC={"ENABLED": False})
    make_course("course-v1:OrgB+B1+2026")
    make_course("course-v1:DemoX+D1+2026")
    out = StringIO()
    call_command("sync_courses_to_richie", stdout=out)
    assert list(receiver.runs) == [link("course-v1:DemoX+D1+2026")]


def test_org_with_its_own_instance_and_lms_url(settings, receiver, second_receiver):
    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url)]}
    site_configuration(
        "OrgC",
        LMS_ROOT_URL="https://learn.orgc.example.org",
        RICHIE_SYNC={"INSTANCES": [{"NAME": "orgc-richie", "URL": second_receiver.url, "SECRET": "other-secret"}]},
    )
    make_course("course-v1:OrgC+C1+2026")
    out = StringIO()
    call_command("sync_courses_to_richie", stdout=out)
    assert receiver.requests == []
    assert list(second_receiver.runs) == [link("course-v1:OrgC+C1+2026", "https://learn.orgc.example.org")]
    assert "orgc-richie: sent 1" in out.getvalue()


def test_lms_base_uses_the_platform_scheme(two_instances, receiver):
    site_configuration("OrgD", LMS_BASE="orgd.example.net")
    make_course("course-v1:OrgD+X+2026")
    sync_course_run.apply(args=("course-v1:OrgD+X+2026", "catalog")).get()
    assert list(receiver.runs) == [link("course-v1:OrgD+X+2026", "https://orgd.example.net")]


def test_unknown_instance_name_in_site_configuration_is_logged(two_instances, caplog):  # pylint: disable=unused-argument
    site_configuration("OrgE", RICHIE_SYNC={"INSTANCES": ["nope"]})
    assert Router().for_org("OrgE").names() == []
    assert "names Richie instance 'nope', which RICHIE_SYNC does not define" in caplog.text


# -- drop-in migration from richie-openedx-sync ------------------------------------------------


LEGACY_HOOK = {
    "secret": SECRET,
    "url": "REPLACED",
    "timeout": "6",
    "resource_link_template": "https://{lms_domain}/courses/{course_id}/info",
}


def test_legacy_settings_are_read_when_richie_sync_is_absent(settings, receiver):
    del settings.RICHIE_SYNC
    settings.RICHIE_OPENEDX_SYNC_COURSE_HOOKS = [{**LEGACY_HOOK, "url": receiver.url}]
    settings.RICHIE_OPENEDX_SYNC_LANGUAGE_MAPPING = {"es-419": "es-mx"}
    config = get_config()
    (instance,) = config.instances
    assert (instance.name, instance.timeout, instance.secret) == ("127.0.0.1", 6.0, SECRET)
    make_course(language="es-419")
    assert sync_course_run.apply(args=("course-v1:DemoX+Demo101+2026", "127.0.0.1")).get() == "sent"
    run = receiver.runs[link("course-v1:DemoX+Demo101+2026")]
    assert run["languages"] == ["es-mx"]


@pytest.mark.parametrize("value, sends_prices", [("false", False), ("False", False), ("0", False), ("", False), ("no", False),
                                                  ("true", True), ("1", True), (True, True), (False, False), (0, False)])
def test_legacy_payment_flag_is_read_with_the_earlier_plugins_meaning(settings, receiver, value, sends_prices):
    """YAML and site configurations often hold "false" as a string: it must not turn prices on."""
    del settings.RICHIE_SYNC
    settings.RICHIE_OPENEDX_SYNC_COURSE_HOOKS = [{**LEGACY_HOOK, "url": receiver.url}]
    settings.RICHIE_OPENEDX_SYNC_INCLUDE_PAYMENT_FIELDS = value
    assert get_config().instances[0].send_prices is sends_prices
    del settings.RICHIE_OPENEDX_SYNC_INCLUDE_PAYMENT_FIELDS
    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url)]}
    site_configuration("OrgL", RICHIE_OPENEDX_SYNC_INCLUDE_PAYMENT_FIELDS=value)
    assert Router().for_org("OrgL").instances[0].send_prices is sends_prices


def test_legacy_hook_names_are_unique_and_stable():
    raw = from_legacy([{"url": "https://a.example.com/x", "secret": "s"}, {"url": "https://a.example.com/y", "secret": "t"}])
    assert [item["NAME"] for item in raw["INSTANCES"]] == ["a.example.com", "a.example.com-2"]
    assert raw["INSTANCES"][0]["RESOURCE_LINK_TEMPLATE"] == "https://{lms_domain}/courses/{course_id}/info"
    config, problems = parse(raw)
    assert [p.code for p in problems if p.level == "error"] == [] and len(config.instances) == 2


def test_legacy_per_org_hooks_and_payment_fields(settings, receiver, second_receiver):
    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url)]}
    site_configuration(
        "OrgL",
        RICHIE_OPENEDX_SYNC_COURSE_HOOKS=[{**LEGACY_HOOK, "url": second_receiver.url, "secret": "other-secret"}],
        RICHIE_OPENEDX_SYNC_INCLUDE_PAYMENT_FIELDS=True,
    )
    route = Router().for_org("OrgL")
    assert route.names() == ["127.0.0.1"] and route.instances[0].send_prices


# -- prices ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "modes, expected",
    [
        ([("honor", 0, "usd")], {"offer": "free", "certificate_offer": "free", "price": None, "certificate_price": None}),
        ([("audit", 0, "usd")], {"offer": "free", "certificate_offer": "free", "price": None, "certificate_price": None}),
        (
            [("audit", 0, "usd"), ("verified", 49, "usd"), ("professional", 99, "usd")],
            {"offer": "partially_free", "certificate_offer": "paid", "certificate_price": "49.00", "price_currency": "USD", "price": None},
        ),
        (
            [("honor", 0, "eur"), ("verified", 30, "eur")],
            {"offer": "free", "certificate_offer": "paid", "certificate_price": "30.00", "price_currency": "EUR", "price": None},
        ),
        (
            [("professional", 250, "usd"), ("verified", 120, "usd")],
            {"offer": "paid", "price": "120.00", "price_currency": "USD", "certificate_offer": "free", "certificate_price": None},
        ),
    ],
)
def test_price_table(modes, expected):
    assert price_fields(modes) == expected


def test_prices_are_sent_only_when_enabled(settings, receiver, course):
    from common.djangoapps.course_modes.models import CourseMode  # pylint: disable=import-outside-toplevel

    CourseMode.objects.create(course_id=course.id, mode_slug="audit", mode_display_name="Audit", min_price=0)
    CourseMode.objects.create(course_id=course.id, mode_slug="verified", mode_display_name="Verified", min_price=49, currency="eur")
    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url)]}
    sync_course_run.apply(args=(str(course.id), "catalog")).get()
    assert "offer" not in receiver.runs[link(str(course.id))]
    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url, SEND_PRICES=True)]}
    sync_course_run.apply(args=(str(course.id), "catalog")).get()
    run = receiver.runs[link(str(course.id))]
    assert (run["offer"], run["certificate_offer"], run["certificate_price"], run["price_currency"]) == (
        "partially_free", "paid", "49.00", "EUR"
    )


def test_a_course_mode_change_reaches_the_instances_that_send_prices(settings, receiver, second_receiver, course, published_tasks, django_capture_on_commit_callbacks):
    """Saving or deleting a mode (LMS admin, ecommerce) sends no course_published: the plugin follows it itself."""
    from common.djangoapps.course_modes.models import CourseMode  # pylint: disable=import-outside-toplevel

    settings.RICHIE_SYNC = {
        "INSTANCES": [
            instance_settings("catalog", receiver.url, SEND_PRICES=True),
            instance_settings("no-prices", second_receiver.url, secret="other-secret"),
        ]
    }
    course_id = str(course.id)
    with django_capture_on_commit_callbacks(execute=True):
        verified = CourseMode.objects.create(course_id=course.id, mode_slug="verified", mode_display_name="Verified", min_price=49)
    assert [(task["args"][0], task["args"][1]) for task in published_tasks] == [(course_id, "catalog")]
    assert sync_course_run.apply(args=published_tasks[-1]["args"]).get() == "sent"
    assert receiver.runs[link(course_id)]["price"] == "49.00"

    with django_capture_on_commit_callbacks(execute=True):
        verified.min_price = 59
        verified.save()
    assert sync_course_run.apply(args=published_tasks[-1]["args"]).get() == "sent"
    assert receiver.runs[link(course_id)]["price"] == "59.00"

    with django_capture_on_commit_callbacks(execute=True):
        verified.delete()
    assert sync_course_run.apply(args=published_tasks[-1]["args"]).get() == "sent"
    assert receiver.runs[link(course_id)]["offer"] == "free" and receiver.runs[link(course_id)]["price"] is None
    assert second_receiver.requests == []  # the instance without prices was never asked


def test_a_mode_that_expires_is_followed_by_the_sweep(settings, receiver, course, published_tasks):
    from common.djangoapps.course_modes.models import CourseMode  # pylint: disable=import-outside-toplevel

    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url, SEND_PRICES=True)]}
    CourseMode.objects.create(course_id=course.id, mode_slug="audit", mode_display_name="Audit", min_price=0)
    expires = timezone.now() + timedelta(hours=2)
    CourseMode.objects.create(
        course_id=course.id, mode_slug="verified", mode_display_name="Verified", min_price=49, expiration_datetime=expires
    )
    assert sync_course_run.apply(args=(str(course.id), "catalog")).get() == "sent"
    state = CourseRunSyncState.objects.get()
    assert state.refresh_at == expires and receiver.runs[link(str(course.id))]["certificate_offer"] == "paid"
    published_tasks.clear()
    assert sweep_task_result()["refreshed"] == 0  # not yet
    CourseRunSyncState.objects.filter(pk=state.pk).update(refresh_at=timezone.now() - timedelta(seconds=1))
    CourseMode.objects.filter(mode_slug="verified").update(_expiration_datetime=timezone.now() - timedelta(seconds=1))
    assert sweep_task_result()["refreshed"] == 1
    assert sync_course_run.apply(args=published_tasks[-1]["args"]).get() == "sent"
    assert receiver.runs[link(str(course.id))]["certificate_offer"] == "free"
    assert CourseRunSyncState.objects.get().refresh_at is None


def test_per_organisation_prices_apply_to_each_course_of_a_mixed_resync(settings, receiver):
    """OrgA without prices and OrgB with them, resynced together: each course follows its own organisation."""
    from common.djangoapps.course_modes.models import CourseMode  # pylint: disable=import-outside-toplevel

    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url)]}
    for course_id in ("course-v1:OrgA+A1+2026", "course-v1:OrgB+B1+2026"):
        course = make_course(course_id)
        CourseMode.objects.create(course_id=course.id, mode_slug="verified", mode_display_name="Verified", min_price=49)
    site_configuration("OrgA", RICHIE_SYNC={"SEND_PRICES": False})
    site_configuration("OrgB", RICHIE_SYNC={"SEND_PRICES": True})
    out = StringIO()
    call_command("sync_courses_to_richie", stdout=out)
    assert "sent 2" in out.getvalue()
    assert "price" not in receiver.runs[link("course-v1:OrgA+A1+2026")]
    assert receiver.runs[link("course-v1:OrgB+B1+2026")]["price"] == "49.00"


# -- pause switch ----------------------------------------------------------------------------------


def test_pause_keeps_changes_pending_then_delivers_them(richie_sync, receiver, course):  # pylint: disable=unused-argument
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


def sweep_task_result():
    from openedx_richie_sync.tasks import sweep_richie_sync  # pylint: disable=import-outside-toplevel

    return sweep_richie_sync.apply().get()


# -- checks and status -------------------------------------------------------------------------------


def test_earlier_plugin_installed_is_warned(tmp_path, monkeypatch):
    assert check_earlier_plugin() == []
    (tmp_path / "richie_openedx_sync").mkdir()
    (tmp_path / "richie_openedx_sync" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    (warning,) = check_earlier_plugin()
    assert warning.id == "richie_sync.W007" and "double requests" in warning.msg and "pip uninstall" in warning.hint
    sys.modules.pop("richie_openedx_sync", None)


def test_status_counts_per_instance(richie_sync, receiver):  # pylint: disable=unused-argument
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


def test_system_check_is_clean_for_legacy_settings(settings):
    del settings.RICHIE_SYNC
    settings.RICHIE_OPENEDX_SYNC_COURSE_HOOKS = [{**LEGACY_HOOK, "url": "https://richie.example.com/api/v1.0/course-runs-sync/"}]
    assert check_richie_sync_configuration() == []


def test_command_finds_instances_declared_only_in_site_configuration(settings, receiver):
    settings.RICHIE_SYNC = {"INSTANCES": []}
    site_configuration("OrgS", RICHIE_SYNC={"INSTANCES": [{"NAME": "orgs-richie", "URL": receiver.url, "SECRET": SECRET}]})
    make_course("course-v1:OrgS+S1+2026")
    out = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("sync_courses_to_richie", "--check", stdout=out)
    assert exit_.value.code == 0 and out.getvalue().startswith("orgs-richie: OK")
    out = StringIO()
    call_command("sync_courses_to_richie", stdout=out)
    assert "orgs-richie: sent 1" in out.getvalue() and len(receiver.runs) == 1


def test_legacy_language_mapping_as_json_and_basic_auth_are_handled(settings):
    del settings.RICHIE_SYNC
    settings.RICHIE_OPENEDX_SYNC_COURSE_HOOKS = [
        {**LEGACY_HOOK, "url": "https://richie.example.com/api/v1.0/course-runs-sync/", "auth_user": "u", "auth_pass": "p"}
    ]
    settings.RICHIE_OPENEDX_SYNC_LANGUAGE_MAPPING = '{"es-419": "es"}'
    config = get_config()
    assert config.language_mapping == (("es-419", "es"),)
    (warning,) = check_richie_sync_configuration()
    assert warning.id == "richie_sync.W002" and "auth_user" in warning.msg
    assert "p" not in [value for value in warning.msg.split("'")]


def test_production_settings_read_the_earlier_plugin_settings_from_env_tokens():
    from openedx_richie_sync.settings import production  # pylint: disable=import-outside-toplevel

    class Settings:
        ENV_TOKENS = {"RICHIE_OPENEDX_SYNC_COURSE_HOOKS": [LEGACY_HOOK], "RICHIE_OPENEDX_SYNC_INCLUDE_PAYMENT_FIELDS": True}

    production.plugin_settings(Settings)
    assert Settings.RICHIE_OPENEDX_SYNC_COURSE_HOOKS == [LEGACY_HOOK] and Settings.RICHIE_OPENEDX_SYNC_INCLUDE_PAYMENT_FIELDS


def test_dry_run_wins_over_async(richie_sync, receiver, published_tasks):  # pylint: disable=unused-argument
    make_course()
    out = StringIO()
    call_command("sync_courses_to_richie", "--dry-run", "--async", stdout=out)
    assert published_tasks == [] and receiver.requests == []
    assert '"instance":"catalog"' in out.getvalue()


def test_a_retrying_delivery_is_not_due_for_the_sweep_before_its_retry(richie_sync, receiver, course):  # pylint: disable=unused-argument
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


def test_two_site_configurations_claiming_one_organisation_never_mix(settings, receiver):
    """The platform gives no order between them: every value must come from the same one."""
    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url)]}
    site_configuration("OrgX", LMS_ROOT_URL="https://one.example.com", RICHIE_SYNC={"SEND_PRICES": True})
    site = Site.objects.create(domain="two.example.com", name="two")
    from openedx.core.djangoapps.site_configuration.models import SiteConfiguration  # pylint: disable=import-outside-toplevel

    SiteConfiguration.objects.create(
        site=site, enabled=True,
        site_values={"course_org_filter": "OrgX", "LMS_ROOT_URL": "https://two.example.com", "RICHIE_SYNC": {"SEND_PRICES": False}},
    )
    seen = set()
    for _ in range(30):
        clear_route_cache()  # read the site configurations again each time
        route = Router().for_org("OrgX")
        seen.add((route.lms_root_url, route.instances[0].send_prices))
    assert seen <= {("https://one.example.com", True), ("https://two.example.com", False)}


def test_routes_follow_the_exact_organisation_code(settings, receiver):
    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url)]}
    site_configuration("DemoX", LMS_ROOT_URL="https://demox.example.com")
    router = Router()
    assert router.for_org("DemoX").lms_root_url == "https://demox.example.com"
    assert router.for_org("demox").lms_root_url == "https://lms.example.com"  # site configurations match case-sensitively
