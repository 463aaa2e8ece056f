"""
``sync_courses_to_richie --check`` proves the resource link too.

It sends a signed course run for a course code no Richie course page can have, answered here by
a receiver that reads links like Richie does.
"""

# pylint: disable=redefined-outer-name  # pytest passes fixtures by name

from io import StringIO

import pytest
from django.core.management import call_command

from openedx_richie_sync.configuration import Instance
from openedx_richie_sync.link_check import (
    MATCHING_TEMPLATE,
    PROBE_CODE,
    RICHIE_CODE_MAX_LENGTH,
    RICHIE_DEFAULT_COURSE_REGEX,
    check_resource_link,
    probe_link,
)
from test_support.richie_receiver import RichieReceiver, normalize_code

from .helpers import SECRET, instance_settings

LMS = "https://lms.example.com"
pytestmark = pytest.mark.django_db


def check(*args):
    """(exit status, output) of ``sync_courses_to_richie --check *args``."""
    out = StringIO()
    try:
        call_command("sync_courses_to_richie", "--check", *args, stdout=out, stderr=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


def lines_of(output):
    """{instance name or "<name> (resource link)": verdict} of the command's lines."""
    return dict(line.split(": ", 1) for line in output.splitlines())


@pytest.fixture
def site_factory_richie():
    """A Richie site made with Richie's site factory: its Open edX backend's default COURSE_REGEX."""
    with RichieReceiver(secrets=(SECRET,), course_regex=RICHIE_DEFAULT_COURSE_REGEX) as server:
        yield server


@pytest.fixture(autouse=True)
def lms_root(settings):
    settings.LMS_ROOT_URL = LMS


def test_the_probe_code_cannot_be_a_richie_course_code():
    """Richie normalizes codes (slugify, upper case) and stores at most 100 characters."""
    assert len(PROBE_CODE) == RICHIE_CODE_MAX_LENGTH + 1
    assert normalize_code(PROBE_CODE) == PROBE_CODE


def test_matching_link_is_proven_and_nothing_is_written(settings, receiver):
    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url)]}
    status, output = check()
    assert status == 0
    line = lines_of(output)["catalog (resource link)"]
    assert line.startswith(f"OK — Richie's COURSE_REGEX matches {LMS}/courses/course-v1:RichieSyncCheck+")
    assert "nothing was written" in line and "shortened" not in line
    # Every course code has a page in this receiver, except codes Richie cannot store.
    assert receiver.runs == {} and receiver.applied == []
    probe = receiver.requests[-1]
    assert probe.status == 400
    assert probe.response_json() == {"resource_link": [f"Unknown course: {PROBE_CODE}."]}
    assert probe.json()["languages"] == ["en"]
    assert SECRET not in output


def test_default_template_against_the_site_factory_regex_is_a_mismatch(settings, site_factory_richie):
    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("site", site_factory_richie.url)]}
    status, output = check()
    assert status == 1
    lines = lines_of(output)
    assert lines["site"].startswith("OK")  # URL and secret are right...
    line = lines["site (resource link)"]  # ...but Richie cannot read the link
    assert line.startswith("COURSE_REGEX MISMATCH — Richie answered resource_link: No LMS configuration found")
    assert "'{lms_root_url}/courses/{course_id}/info'" in line  # the template to align
    assert RICHIE_DEFAULT_COURSE_REGEX in line and "EDX_COURSE_REGEX" in line  # the regex to align
    assert repr(MATCHING_TEMPLATE) in line
    assert site_factory_richie.runs == {}


def test_the_matching_template_agrees_with_the_site_factory_regex(settings, site_factory_richie):
    settings.RICHIE_SYNC = {
        "INSTANCES": [instance_settings("site", site_factory_richie.url, RESOURCE_LINK_TEMPLATE=MATCHING_TEMPLATE)]
    }
    status, output = check()
    assert status == 0
    assert lines_of(output)["site (resource link)"].startswith(
        f"OK — Richie's COURSE_REGEX matches {LMS}/courses/course-v1:RichieSyncCheck+{PROBE_CODE}+check/course/ "
    )
    assert site_factory_richie.runs == {}


def test_a_richie_that_creates_no_runs(settings, receiver):
    receiver.creation_enabled = False
    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url)]}
    status, output = check()
    assert status == 0
    line = lines_of(output)["catalog (resource link)"]
    assert line.startswith("OK, UPDATES ONLY — Richie's COURSE_REGEX matches ")
    assert "'manual'" in line and "sync_to_public" in line


def test_a_regex_capturing_something_else_than_a_course_key(settings):
    with RichieReceiver(secrets=(SECRET,), course_regex=r"^.*/courses/(?P<course_id>[^+]*)") as odd:
        settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("odd", odd.url)]}
        status, output = check()
        assert not odd.runs
    assert status == 1
    line = lines_of(output)["odd (resource link)"]
    assert line.startswith("RICHIE FAILED — HTTP 500") and "course-v1:ORG+CODE+RUN" in line


def test_no_probe_when_the_secret_is_wrong(settings):
    with RichieReceiver(secrets=("other",)) as richie:
        settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", richie.url)]}
        status, output = check()
        assert len(richie.requests) == 1
    assert status == 1
    assert "catalog (resource link)" not in output


def test_long_links_shorten_the_probe_code_and_say_so(receiver):
    receiver.set_known_course_codes({"Demo"})
    root = "https://" + "lms." * 20 + "example.com"
    instance = Instance(name="catalog", url=receiver.url, secret=SECRET)
    link, collision_proof = probe_link(instance, root)
    assert len(link) == 200 and not collision_proof
    result = check_resource_link(instance, root_url=root, language="fr")
    assert result.ok and "shortened" in result.line
    assert receiver.requests[-1].json() == {"resource_link": link, "languages": ["fr"]}
    # A shortened code could exist: then Richie creates a run, and the check says so.
    receiver.set_known_course_codes(None)
    result = check_resource_link(instance, root_url=root, language="fr")
    assert not result.ok
    assert result.line.startswith(f"UNEXPECTED — Richie created a course run for the made-up course of {link}")


def test_a_link_that_cannot_fit(receiver):
    instance = Instance(name="catalog", url=receiver.url, secret=SECRET)
    result = check_resource_link(instance, root_url="https://" + "x" * 190, language="en")
    assert not result.ok
    assert result.line.startswith("NOT CHECKED — ") and "Shorten RESOURCE_LINK_TEMPLATE" in result.line
    assert receiver.requests == []


def test_the_receiver_still_updates_existing_runs_when_creation_is_off(receiver):
    """Richie only refuses to create: runs it already has are updated (sync_course_run's order)."""
    from openedx_richie_sync.delivery import RichieClient  # pylint: disable=import-outside-toplevel

    instance = Instance(name="catalog", url=receiver.url, secret=SECRET)
    link = f"{LMS}/courses/course-v1:DemoX+Demo+2026/info"
    assert RichieClient(instance).post({"resource_link": link, "languages": ["en"]}).ok
    receiver.creation_enabled = False
    assert RichieClient(instance).post({"resource_link": link, "languages": ["fr"]}).ok
    assert receiver.runs[link]["languages"] == ["fr"]
    refused = RichieClient(instance).post({"resource_link": link.replace("2026", "2027"), "languages": ["en"]})
    assert refused.status == 400 and refused.items == {
        "resource_link": ["Unknown course run when creation is deactivated."]
    }
