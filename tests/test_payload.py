"""CourseOverview snapshot → Richie payload: a pure mapping."""

from datetime import datetime, timedelta, timezone

import pytest

from openedx_richie_sync.configuration import parse
from openedx_richie_sync.data import CourseRun
from openedx_richie_sync.payload import PayloadError, build_payload, iso_datetime, richie_visibility

URL = "https://richie.example.com/api/v1.0/course-runs-sync"


def config_with(**knobs):
    instance = {"NAME": "catalog", "URL": URL, "SECRET": "s", **knobs.pop("instance", {})}
    config, problems = parse({"INSTANCES": [instance], **knobs})
    assert not [problem for problem in problems if problem.level == "error"]
    return config, config.instances[0]


def run(**fields):
    """The CourseOverview snapshot of the demo course run, with ``fields`` changed."""
    values = {
        "course_id": "course-v1:DemoX+Demo101+2026",
        "org": "DemoX",
        "start": datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc),
        "end": datetime(2026, 12, 20, 18, 0, tzinfo=timezone.utc),
        "enrollment_start": datetime(2026, 6, 1, tzinfo=timezone.utc),
        "enrollment_end": None,
        "language": "fr",
        "catalog_visibility": "both",
        "enrollment_count": 42,
        "lms_root_url": "https://lms.example.com",
    }
    values.update(fields)
    return CourseRun(**values)


def test_full_payload():
    config, instance = config_with()
    assert build_payload(run(), instance, config) == {
        "resource_link": "https://lms.example.com/courses/course-v1:DemoX+Demo101+2026/info",
        "start": "2026-09-01T08:00:00Z",
        "end": "2026-12-20T18:00:00Z",
        "enrollment_start": "2026-06-01T00:00:00Z",
        "enrollment_end": None,
        "languages": ["fr"],
        "enrollment_count": 42,
        "catalog_visibility": "course_and_search",
    }


def test_dates_are_converted_to_utc_with_offset():
    paris = timezone(timedelta(hours=2))
    assert iso_datetime(datetime(2026, 9, 1, 10, 0, tzinfo=paris)) == "2026-09-01T08:00:00Z"
    assert iso_datetime(datetime(2026, 9, 1, 10, 0, 0, 500)) == "2026-09-01T10:00:00.000500Z"
    assert iso_datetime(None) is None


@pytest.mark.parametrize(
    "openedx, richie",
    [
        ("both", "course_and_search"),
        ("about", "course_only"),
        ("none", "hidden"),
        ("BOTH", "course_and_search"),
        (None, "course_and_search"),
        ("", "course_and_search"),
        ("hidden", "hidden"),
        ("course_only", "course_only"),
        ("garbage", "course_and_search"),
    ],
)
def test_visibility_table(openedx, richie):
    assert richie_visibility(openedx) == richie


def test_missing_enrollment_start_falls_back_to_start():
    config, instance = config_with()
    assert build_payload(run(enrollment_start=None), instance, config)["enrollment_start"] == "2026-09-01T08:00:00Z"
    config, instance = config_with(ENROLLMENT_START_FALLBACK="none")
    assert build_payload(run(enrollment_start=None), instance, config)["enrollment_start"] is None


def test_language_mapping_and_default():
    config, instance = config_with(LANGUAGE_MAPPING={"es-419": "es-mx"}, DEFAULT_LANGUAGE="fr")
    assert build_payload(run(language="es_419"), instance, config)["languages"] == ["es-mx"]
    assert build_payload(run(language=None), instance, config)["languages"] == ["fr"]


def test_resource_link_template_fields():
    config, instance = config_with(
        instance={"RESOURCE_LINK_TEMPLATE": "https://{lms_base}/{org}/courses/{course_id}/about"}
    )
    assert build_payload(run(lms_root_url="https://lms.example.com/"), instance, config)["resource_link"] == (
        "https://lms.example.com/DemoX/courses/course-v1:DemoX+Demo101+2026/about"
    )


def test_too_long_resource_link_is_refused_with_advice():
    config, instance = config_with()
    with pytest.raises(PayloadError, match="at most 200.*RESOURCE_LINK_TEMPLATE of instance 'catalog'"):
        build_payload(run(lms_root_url="https://" + "l" * 200), instance, config)


def add_price(payload, course_run, instance_name):
    payload["price"] = "10.00" if instance_name == "catalog" else None
    payload["display"] = course_run.course_id
    return payload


def drop_languages(payload, **kwargs):
    payload["languages"] = []
    return payload


def test_payload_hook_amends_per_instance():
    config, instance = config_with(PAYLOAD_HOOK="tests.test_payload.add_price")
    payload = build_payload(run(), instance, config)
    assert payload["price"] == "10.00" and payload["display"] == "course-v1:DemoX+Demo101+2026"


def test_payload_hook_cannot_empty_languages():
    config, instance = config_with(PAYLOAD_HOOK="tests.test_payload.drop_languages")
    with pytest.raises(PayloadError, match="emptied languages"):
        build_payload(run(), instance, config)


def test_negative_enrollment_count_is_clamped():
    config, instance = config_with()
    assert build_payload(run(enrollment_count=-3), instance, config)["enrollment_count"] == 0
