"""Multi-site routing: the Richie instances and LMS URL of each organisation (``routing``)."""

from io import StringIO

import pytest
from django.contrib.sites.models import Site
from django.core.management import call_command

from openedx_richie_sync.routing import Router, clear_route_cache
from openedx_richie_sync.tasks import sync_course_run

from .helpers import instance_settings, link, make_course, site_configuration

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_instances(settings, receiver, second_receiver):
    """Two instances: catalog for every organisation, partner (other secret) for the nobody organisation."""
    settings.RICHIE_SYNC = {
        "INSTANCES": [
            instance_settings("catalog", receiver.url),
            instance_settings("partner", second_receiver.url, secret="other-secret", ENABLED=True, ORGS=["nobody"]),
        ],
        "MAX_RETRIES": 0,
    }
    return settings.RICHIE_SYNC


@pytest.mark.usefixtures("two_instances")
def test_org_without_site_configuration_uses_global_instances():
    assert Router().for_org("DemoX").names() == ["catalog"]


@pytest.mark.usefixtures("two_instances")
def test_org_can_name_its_own_instances(receiver, second_receiver):
    site_configuration("OrgA", RICHIE_SYNC={"INSTANCES": ["partner"]})
    make_course("course-v1:OrgA+A1+2026")
    assert Router().for_org("OrgA").names() == ["partner"]  # even though partner's ORGS do not list it
    assert sync_course_run.apply(args=("course-v1:OrgA+A1+2026", "partner")).get() == "sent"
    assert sync_course_run.apply(args=("course-v1:OrgA+A1+2026", "catalog")).get() == "skipped"
    assert list(second_receiver.runs) == [link("course-v1:OrgA+A1+2026")] and receiver.requests == []


@pytest.mark.usefixtures("two_instances")
def test_org_can_be_excluded(receiver):
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


@pytest.mark.usefixtures("two_instances")
def test_lms_base_uses_the_platform_scheme(receiver):
    site_configuration("OrgD", LMS_BASE="orgd.example.net")
    make_course("course-v1:OrgD+X+2026")
    sync_course_run.apply(args=("course-v1:OrgD+X+2026", "catalog")).get()
    assert list(receiver.runs) == [link("course-v1:OrgD+X+2026", "https://orgd.example.net")]


@pytest.mark.usefixtures("two_instances")
def test_unknown_instance_name_in_site_configuration_is_logged(caplog):
    site_configuration("OrgE", RICHIE_SYNC={"INSTANCES": ["nope"]})
    assert Router().for_org("OrgE").names() == []
    assert "names Richie instance 'nope', which RICHIE_SYNC does not define" in caplog.text


def test_two_site_configurations_claiming_one_organisation_never_mix(settings, receiver):
    """The platform gives no order between them: every value must come from the same one."""
    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url)]}
    site_configuration("OrgX", LMS_ROOT_URL="https://one.example.com", RICHIE_SYNC={"SEND_PRICES": True})
    site = Site.objects.create(domain="two.example.com", name="two")
    from openedx.core.djangoapps.site_configuration.models import (  # pylint: disable=import-outside-toplevel
        SiteConfiguration,
    )

    SiteConfiguration.objects.create(
        site=site,
        enabled=True,
        site_values={
            "course_org_filter": "OrgX",
            "LMS_ROOT_URL": "https://two.example.com",
            "RICHIE_SYNC": {"SEND_PRICES": False},
        },
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
    assert (
        router.for_org("demox").lms_root_url == "https://lms.example.com"
    )  # site configurations match case-sensitively
