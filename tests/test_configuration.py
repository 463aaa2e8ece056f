"""RICHIE_SYNC parsing and the system checks that report bad configuration."""

import importlib
from io import StringIO

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from openedx_richie_sync.checks import check_richie_sync_configuration
from openedx_richie_sync.configuration import (
    DEFAULT_RESOURCE_LINK_TEMPLATE,
    GLOBAL_KEYS,
    INSTANCE_KEYS,
    get_config,
    parse,
)

GOOD = {"NAME": "catalog", "URL": "https://richie.example.com/api/v1.0/course-runs-sync", "SECRET": "s3cr3t"}


def codes(problems):
    return sorted(problem.code for problem in problems)


def test_valid_configuration_with_defaults():
    config, problems = parse({"INSTANCES": [GOOD]})
    assert not problems
    (instance,) = config.instances
    assert instance.name == "catalog"
    assert instance.resource_link_template == DEFAULT_RESOURCE_LINK_TEMPLATE
    assert instance.timeout == 10.0 and instance.enabled and instance.orgs is None
    assert config.max_retries == 8 and config.default_language == "en" and config.celery_queue is None


def test_secret_is_not_in_repr():
    config, _ = parse({"INSTANCES": [GOOD]})
    assert "s3cr3t" not in repr(config)


@pytest.mark.parametrize(
    "instance, code, words",
    [
        ({**GOOD, "URL": ""}, "E004", "has no URL"),
        ({**GOOD, "URL": "ftp://richie/x"}, "E004", "not an http(s) URL"),
        ({**GOOD, "URL": "https://me:pw@richie.example.com/api/v1.0/course-runs-sync"}, "E004", "has credentials"),
        ({key: value for key, value in GOOD.items() if key != "SECRET"}, "E005", "RICHIE_COURSE_RUN_SYNC_SECRETS"),
        ({**GOOD, "RESOURCE_LINK_TEMPLATE": "{lms_root_url}/courses/{course_id/info"}, "E006", "malformed"),
        ({**GOOD, "RESOURCE_LINK_TEMPLATE": "{lms_root_url}/courses/{course}/info"}, "E006", "unknown fields"),
        ({**GOOD, "RESOURCE_LINK_TEMPLATE": "{lms_root_url}/courses/"}, "E006", "no {course_id}"),
        ({**GOOD, "TIMEOUT": "ten"}, "E007", "TIMEOUT must be a number"),
        ({**GOOD, "ORGS": "DemoX"}, "E008", "ORGS must be a list"),
        ({"URL": GOOD["URL"], "SECRET": "x"}, "E003", "has no NAME"),
    ],
)
def test_invalid_instance_is_an_error_naming_the_instance(instance, code, words):
    config, problems = parse({"INSTANCES": [instance]})
    assert not config.instances
    assert code in codes(problems)
    problem = next(problem for problem in problems if problem.code == code)
    message = problem.message
    assert words in message + problem.hint
    if "NAME" in instance:
        assert "'catalog'" in message


def test_duplicate_name_keeps_the_first():
    config, problems = parse(
        {"INSTANCES": [GOOD, {**GOOD, "URL": "https://other.example.com/api/v1.0/course-runs-sync"}]}
    )
    assert [i.url for i in config.instances] == [GOOD["URL"]]
    assert codes(problems) == ["E010"]


def test_one_bad_instance_does_not_disable_the_good_one():
    config, problems = parse({"INSTANCES": [GOOD, {"NAME": "broken", "URL": GOOD["URL"]}]})
    assert [i.name for i in config.instances] == ["catalog"]
    assert codes(problems) == ["E005"]


@pytest.mark.parametrize(
    "url, warned",
    [
        ("http://richie.example.com/api/v1.0/course-runs-sync", True),
        ("http://127.0.0.1:8000/api/v1.0/course-runs-sync", False),
        ("http://localhost/api/v1.0/course-runs-sync", False),
        ("https://richie.example.com/api/v1.0/course-runs-sync", False),
    ],
)
def test_plain_http_to_remote_host_is_a_warning(url, warned):
    _, problems = parse({"INSTANCES": [{**GOOD, "URL": url}]})
    assert ("W001" in codes(problems)) is warned
    assert all(problem.level == "warning" for problem in problems)


def test_global_knobs_are_validated():
    _, problems = parse(
        {
            "INSTANCES": [GOOD],
            "MAX_RETRIES": "many",
            "DEFAULT_LANGUAGE": "en-us",
            "LANGUAGE_MAPPING": {"es-419": "es", "xx": "EN"},
            "ENROLLMENT_START_FALLBACK": "later",
            "PAYLOAD_HOOK": "nodots",
            "UNKNOWN": 1,
        }
    )
    assert codes(problems) == ["E011", "E013", "E014", "E014", "E015", "W002"]


def test_language_mapping_keys_are_normalized():
    config, problems = parse({"INSTANCES": [GOOD], "LANGUAGE_MAPPING": {"es_419": "es"}})
    assert not problems
    assert config.language_mapping == (("es-419", "es"),)


def test_org_allow_list_is_case_insensitive():
    config, _ = parse({"INSTANCES": [{**GOOD, "ORGS": ["DemoX"]}]})
    assert [i.name for i in config.instances_for_org("demox")] == ["catalog"]
    assert config.instances_for_org("OtherX") == []


def test_disabled_instance_serves_nothing():
    config, _ = parse({"INSTANCES": [{**GOOD, "ENABLED": False}]})
    assert config.instances_for_org("DemoX") == [] and config.instance("catalog") is None


def test_system_check_reports_errors_without_blocking_commands(settings):
    settings.RICHIE_SYNC = {"INSTANCES": [{"NAME": "catalog", "URL": GOOD["URL"]}]}
    messages = check_richie_sync_configuration()
    assert [message.id for message in messages] == ["richie_sync.E005"]
    assert messages[0].level == checks.ERROR
    err = StringIO()
    call_command("check", stderr=err)  # shown, but migrate and the platform's other commands still run
    assert "ERRORS:" in err.getvalue() and "richie_sync.E005" in err.getvalue() and "'catalog'" in err.getvalue()
    with pytest.raises(SystemCheckError, match="richie_sync.E005"):
        call_command("check", fail_level="WARNING")  # what a CI gate or an operator asks for


def test_system_check_reports_unimportable_hook_and_foreign_queue(settings):
    settings.RICHIE_SYNC = {"INSTANCES": [GOOD], "PAYLOAD_HOOK": "no_such_module.hook", "CELERY_QUEUE": "richie"}
    ids = sorted(message.id for message in check_richie_sync_configuration())
    assert ids == ["richie_sync.E013", "richie_sync.E016"]


@pytest.mark.parametrize(
    "queue, finding",
    [
        ("edx.cms.core.default", False),
        ("edx.cms.core.high", False),
        ("edx.lms.core.high_mem", False),
        ("edx.cms.core.richie", True),  # looks like the platform's, but no stock worker consumes it
        ("edx.lms.core.low", True),
    ],
)
def test_queue_must_be_one_a_stock_worker_consumes(settings, queue, finding):
    settings.RICHIE_SYNC = {"INSTANCES": [GOOD], "CELERY_QUEUE": queue}
    messages = check_richie_sync_configuration()
    assert [message.id for message in messages] == (["richie_sync.E016"] if finding else [])
    if finding:
        assert queue in messages[0].msg and "edx.cms.core.default" in messages[0].msg


def test_missing_ca_bundle_is_an_error(settings, tmp_path):
    bundle = tmp_path / "ca.pem"
    settings.RICHIE_SYNC = {"INSTANCES": [{**GOOD, "VERIFY_TLS": str(bundle)}]}
    messages = check_richie_sync_configuration()
    assert [message.id for message in messages] == ["richie_sync.E017"] and str(bundle) in messages[0].msg
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert check_richie_sync_configuration() == []


def test_system_check_passes_on_good_configuration(settings):
    settings.RICHIE_SYNC = {"INSTANCES": [GOOD]}
    assert check_richie_sync_configuration() == []
    call_command("check")


def test_production_settings_read_env_tokens():
    production = importlib.import_module("openedx_richie_sync.settings.production")

    class Settings:
        RICHIE_SYNC = {"INSTANCES": []}
        ENV_TOKENS = {"RICHIE_SYNC": {"INSTANCES": [GOOD]}}

    production.plugin_settings(Settings)
    assert Settings.RICHIE_SYNC["INSTANCES"] == [GOOD]


def test_get_config_reads_django_settings(settings):
    settings.RICHIE_SYNC = {"INSTANCES": [GOOD], "MAX_RETRIES": 2}
    assert get_config().max_retries == 2


def test_tls_verification_off_is_a_warning():
    config, problems = parse({"INSTANCES": [{**GOOD, "VERIFY_TLS": False}]})
    assert codes(problems) == ["W006"] and config.instances[0].verify_tls is False
    config, problems = parse({"INSTANCES": [{**GOOD, "VERIFY_TLS": "/etc/ssl/private-ca.pem"}]})
    assert not problems and config.instances[0].verify_tls == "/etc/ssl/private-ca.pem"


def test_durability_knobs():
    config, problems = parse(
        {
            "INSTANCES": [GOOD],
            "COALESCE_SECONDS": 1,
            "ENROLLMENT_COUNT_INTERVAL": 600,
            "PENDING_GRACE": 60,
            "RETRY_FAILED_AFTER": 900,
        }
    )
    assert not problems
    assert (
        config.coalesce_seconds,
        config.enrollment_count_interval,
        config.pending_grace,
        config.retry_failed_after,
    ) == (1.0, 600.0, 60.0, 900.0)


GARBAGE = [None, 0, -1, 5, 1e12, 1e308, float("inf"), float("-inf"), float("nan"), True, "", " ", "x", "\n",
           [], [1], [None], {}, {"a": 1}, {1: 2}, ("t",), b"bytes", object()]


@pytest.mark.parametrize("value", GARBAGE, ids=repr)
def test_no_value_of_any_key_makes_parse_raise(value):
    """
    Every value gives problems, never an exception.

    check, migrate and publishes must run whatever the setting holds.
    """
    for raw in [value, {"INSTANCES": value}, {"INSTANCES": [value]}]:
        config, problems = parse(raw)
        assert isinstance(problems, list) and isinstance(config.instances, tuple)
    for key in sorted(GLOBAL_KEYS - {"INSTANCES"}):
        parse({"INSTANCES": [GOOD], key: value})
    for key in sorted(INSTANCE_KEYS):
        config, problems = parse({"INSTANCES": [{**GOOD, key: value}]})
        if not config.instances:  # an unusable value is an Error that names the instance
            assert (
                any(problem.level == "error" and "'catalog'" in problem.message for problem in problems)
                or key == "NAME"
            )


@pytest.mark.parametrize(
    "key, value",
    [
        ("MAX_RETRIES", float("inf")),
        ("MAX_RETRIES", float("nan")),
        ("MAX_RETRIES", 2.5),
        ("MAX_RETRIES", 10**6),
        ("COALESCE_SECONDS", 1e12),
        ("PENDING_GRACE", float("inf")),
        ("RETRY_BACKOFF_MAX", -1),
    ],
)
def test_numbers_must_be_finite_and_in_range(key, value):
    config, problems = parse({"INSTANCES": [GOOD], key: value})
    assert codes(problems) == ["E011"] and key in problems[0].message
    assert getattr(config, key.lower()) == getattr(parse({"INSTANCES": [GOOD]})[0], key.lower())  # the default is used


@pytest.mark.parametrize(
    "instance, code, words",
    [
        ({**GOOD, "TIMEOUT": float("nan")}, "E007", "TIMEOUT"),
        ({**GOOD, "TIMEOUT": 1e9}, "E007", "TIMEOUT"),
        ({**GOOD, "ORGS": 5}, "E008", "ORGS"),
        ({**GOOD, "URL": "http://[::1/x"}, "E004", "not a valid URL"),
        ({**GOOD, "URL": "https://richie.example.com:99999/api/v1.0/course-runs-sync"}, "E004", "not a valid URL"),
        ({**GOOD, "URL": "https://richie.example.com/api/v1.0/course-runs-sync\r\nX: y"}, "E004", "control characters"),
        ({**GOOD, "NAME": "cat\nalog"}, "E003", "control characters"),
        ({**GOOD, "NAME": "x" * 101}, "E003", "longer than 100"),
        (
            {**GOOD, "RESOURCE_LINK_TEMPLATE": "{lms_root_url}/courses/{course_id:>200000000}/info"},
            "E006",
            "format specs",
        ),
        ({**GOOD, "RESOURCE_LINK_TEMPLATE": "{lms_root_url}/courses/{course_id!r}/info"}, "E006", "conversions"),
        ({**GOOD, "VERIFY_TLS": ""}, "E009", "empty string"),
    ],
)
def test_more_invalid_instances(instance, code, words):
    config, problems = parse({"INSTANCES": [instance]})
    assert not config.instances and code in codes(problems)
    assert any(words in problem.message for problem in problems)


@pytest.mark.parametrize("scheme", ["https", "http", "ftp", "redis"])
def test_credentials_in_a_url_are_never_echoed(scheme):
    _, problems = parse({"INSTANCES": [{**GOOD, "URL": f"{scheme}://user:pa55word@richie.example.com/x"}]})
    assert problems and all("pa55word" not in problem.message + problem.hint for problem in problems)


def test_configuration_errors_are_logged_once_per_process(settings, caplog):
    settings.RICHIE_SYNC = {"INSTANCES": [GOOD, {"NAME": "logged-once", "URL": GOOD["URL"]}]}
    with caplog.at_level("ERROR", logger="openedx_richie_sync.configuration"):
        for max_retries in (1, 2, 1, 2, 1):  # parsed again each time, logged once
            settings.RICHIE_SYNC = {**settings.RICHIE_SYNC, "MAX_RETRIES": max_retries}
            assert [instance.name for instance in get_config().instances] == ["catalog"]
            assert get_config().max_retries == max_retries
    logged = [record.getMessage() for record in caplog.records if "'logged-once'" in record.getMessage()]
    assert len(logged) == 1 and "E005" in logged[0] and "manage.py cms check" in logged[0]


def test_configuration_is_parsed_again_when_the_setting_changes(settings):
    """Cached per process; a changed RICHIE_SYNC or legacy setting (Django's setting_changed) is parsed again."""
    settings.RICHIE_SYNC = {"INSTANCES": [GOOD], "MAX_RETRIES": 2}
    assert get_config().max_retries == 2
    assert get_config() is get_config()  # not parsed again while nothing changes
    settings.RICHIE_SYNC = {**settings.RICHIE_SYNC, "MAX_RETRIES": 4}
    assert get_config().max_retries == 4
    with override_settings(RICHIE_SYNC={"INSTANCES": [GOOD], "MAX_RETRIES": 5}):
        assert get_config().max_retries == 5
    assert get_config().max_retries == 4
    settings.RICHIE_SYNC = {"MAX_RETRIES": 6}
    settings.RICHIE_OPENEDX_SYNC_COURSE_HOOKS = [{"url": GOOD["URL"], "secret": "s"}]
    assert [instance.name for instance in get_config().instances] == ["richie.example.com"]
    assert get_config().max_retries == 6
