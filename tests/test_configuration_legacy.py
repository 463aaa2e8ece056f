"""Drop-in migration from richie-openedx-sync: the earlier plugin's settings, read as RICHIE_SYNC."""

import sys

import pytest

from openedx_richie_sync.checks import check_earlier_plugin, check_richie_sync_configuration
from openedx_richie_sync.configuration import from_legacy, get_config, parse
from openedx_richie_sync.routing import Router
from openedx_richie_sync.tasks import sync_course_run

from .helpers import SECRET, instance_settings, link, make_course, site_configuration

pytestmark = pytest.mark.django_db


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


@pytest.mark.parametrize(
    "value, sends_prices",
    [
        ("false", False),
        ("False", False),
        ("0", False),
        ("", False),
        ("no", False),
        ("true", True),
        ("1", True),
        (True, True),
        (False, False),
        (0, False),
    ],
)
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
    raw = from_legacy(
        [{"url": "https://a.example.com/x", "secret": "s"}, {"url": "https://a.example.com/y", "secret": "t"}]
    )
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


def test_earlier_plugin_installed_is_warned(tmp_path, monkeypatch):
    assert not check_earlier_plugin()
    (tmp_path / "richie_openedx_sync").mkdir()
    (tmp_path / "richie_openedx_sync" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    (warning,) = check_earlier_plugin()
    assert warning.id == "richie_sync.W007" and "double requests" in warning.msg and "pip uninstall" in warning.hint
    sys.modules.pop("richie_openedx_sync", None)


def test_system_check_is_clean_for_legacy_settings(settings):
    del settings.RICHIE_SYNC
    settings.RICHIE_OPENEDX_SYNC_COURSE_HOOKS = [
        {**LEGACY_HOOK, "url": "https://richie.example.com/api/v1.0/course-runs-sync/"}
    ]
    assert check_richie_sync_configuration() == []


def test_legacy_language_mapping_as_json_and_basic_auth_are_handled(settings):
    del settings.RICHIE_SYNC
    settings.RICHIE_OPENEDX_SYNC_COURSE_HOOKS = [
        {
            **LEGACY_HOOK,
            "url": "https://richie.example.com/api/v1.0/course-runs-sync/",
            "auth_user": "u",
            "auth_pass": "p",
        }
    ]
    settings.RICHIE_OPENEDX_SYNC_LANGUAGE_MAPPING = '{"es-419": "es"}'
    config = get_config()
    assert config.language_mapping == (("es-419", "es"),)
    (warning,) = check_richie_sync_configuration()
    assert warning.id == "richie_sync.W002" and "auth_user" in warning.msg
    assert "p" not in warning.msg.split("'")


def test_production_settings_read_the_earlier_plugin_settings_from_env_tokens():
    from openedx_richie_sync.settings import production  # pylint: disable=import-outside-toplevel

    class Settings:
        ENV_TOKENS = {
            "RICHIE_OPENEDX_SYNC_COURSE_HOOKS": [LEGACY_HOOK],
            "RICHIE_OPENEDX_SYNC_INCLUDE_PAYMENT_FIELDS": True,
        }

    production.plugin_settings(Settings)
    # plugin_settings sets the attributes at run time: pylint cannot see them.
    assert Settings.RICHIE_OPENEDX_SYNC_COURSE_HOOKS == [LEGACY_HOOK]  # pylint: disable=no-member
    assert Settings.RICHIE_OPENEDX_SYNC_INCLUDE_PAYMENT_FIELDS  # pylint: disable=no-member
