"""Checks that the Open edX test stand-ins behave as documented in FACTS.md."""

from datetime import timedelta

import pytest
from django.contrib.sites.models import Site
from django.db.models import QuerySet
from django.utils import timezone
from opaque_keys.edx.keys import CourseKey

from common.djangoapps.course_modes.models import CourseMode, Mode
from common.djangoapps.student.models import CourseEnrollment, EnrollStatusChange
from common.djangoapps.student.signals.signals import ENROLL_STATUS_CHANGE
from openedx.core.djangoapps.content.course_overviews.models import CourseOverview
from openedx.core.djangoapps.site_configuration.helpers import get_value_for_org
from openedx.core.djangoapps.site_configuration.models import SiteConfiguration
from xmodule.modulestore.django import COURSE_DELETED, COURSE_PUBLISHED, SignalHandler

KEY = CourseKey.from_string("course-v1:OrgA+CS101+2026_T1")
OTHER_KEY = CourseKey.from_string("course-v1:orgb+MATH1+2026")


@pytest.fixture
def signal_calls():
    """Collect sender and kwargs of every ENROLL_STATUS_CHANGE sent during a test."""
    calls = []

    def receiver(sender, **kwargs):
        kwargs.pop("signal")
        calls.append({"sender": sender, **kwargs})

    ENROLL_STATUS_CHANGE.connect(receiver, weak=False, dispatch_uid="test-standins")
    yield calls
    ENROLL_STATUS_CHANGE.disconnect(dispatch_uid="test-standins")


# --- xmodule.modulestore.django ---------------------------------------------


def test_modulestore_signal_aliases():
    assert COURSE_PUBLISHED is SignalHandler.course_published
    assert COURSE_DELETED is SignalHandler.course_deleted
    assert COURSE_PUBLISHED is not COURSE_DELETED


def test_course_published_send_robust_delivers_key_and_swallows_errors():
    received = []

    def good(sender, course_key, **kwargs):
        received.append(course_key)

    def bad(sender, course_key, **kwargs):
        raise RuntimeError("boom")

    COURSE_PUBLISHED.connect(good, weak=False, dispatch_uid="good")
    COURSE_PUBLISHED.connect(bad, weak=False, dispatch_uid="bad")
    try:
        responses = COURSE_PUBLISHED.send_robust(sender=None, course_key=KEY)
    finally:
        COURSE_PUBLISHED.disconnect(dispatch_uid="good")
        COURSE_PUBLISHED.disconnect(dispatch_uid="bad")
    assert received == [KEY]
    assert any(isinstance(response, RuntimeError) for _, response in responses)


# --- CourseOverview ------------------------------------------------------------


@pytest.mark.django_db
def test_get_from_id_returns_row_with_course_key():
    CourseOverview.objects.create(id=KEY, org="OrgA", display_name="CS 101", language="en")
    overview = CourseOverview.get_from_id(KEY)
    assert overview.id == KEY
    assert isinstance(overview.id, CourseKey)
    assert overview.display_name == "CS 101"
    assert overview.catalog_visibility is None
    assert overview.course_image_url == ""
    assert overview.created is not None and overview.modified is not None


@pytest.mark.django_db
def test_get_from_id_raises_does_not_exist():
    with pytest.raises(CourseOverview.DoesNotExist):
        CourseOverview.get_from_id(KEY)


@pytest.mark.django_db
def test_get_all_courses_filters():
    now = timezone.now()
    CourseOverview.objects.create(id=KEY, org="OrgA", end=now - timedelta(days=1), self_paced=True)
    CourseOverview.objects.create(id=OTHER_KEY, org="orgb", end=None)
    third = CourseKey.from_string("course-v1:OrgC+X+1")
    CourseOverview.objects.create(id=third, org="OrgC", end=now + timedelta(days=30))

    def ids(queryset):
        return {str(overview.id) for overview in queryset}

    everything = CourseOverview.get_all_courses()
    assert isinstance(everything, QuerySet)
    assert ids(everything) == {str(KEY), str(OTHER_KEY), str(third)}
    assert ids(CourseOverview.get_all_courses(orgs=["orga", "ORGB"])) == {str(KEY), str(OTHER_KEY)}
    assert ids(CourseOverview.get_all_courses(filter_={"self_paced": True})) == {str(KEY)}
    assert ids(CourseOverview.get_all_courses(active_only=True)) == {str(OTHER_KEY), str(third)}
    assert ids(CourseOverview.get_all_courses(course_keys=[KEY, third])) == {str(KEY), str(third)}
    assert ids(CourseOverview.get_all_courses(orgs=["OrgC"], active_only=True, course_keys=[KEY])) == set()


# --- site_configuration ------------------------------------------------------------


@pytest.mark.django_db
def test_get_value_for_org():
    SiteConfiguration.objects.create(
        site=Site.objects.create(domain="a.example.com", name="a"),
        enabled=True,
        site_values={"course_org_filter": "OrgA", "RICHIE_URL": "https://a.example.com"},
    )
    SiteConfiguration.objects.create(
        site=Site.objects.create(domain="b.example.com", name="b"),
        enabled=True,
        site_values={"course_org_filter": ["OrgB", "OrgC"], "RICHIE_URL": "https://b.example.com"},
    )
    SiteConfiguration.objects.create(
        site=Site.objects.create(domain="d.example.com", name="d"),
        enabled=False,
        site_values={"course_org_filter": "OrgD", "RICHIE_URL": "https://d.example.com"},
    )

    assert get_value_for_org("OrgA", "RICHIE_URL") == "https://a.example.com"
    assert get_value_for_org("OrgC", "RICHIE_URL") == "https://b.example.com"
    assert get_value_for_org("OrgA", "MISSING", "dflt") == "dflt"
    assert get_value_for_org("OrgD", "RICHIE_URL", "dflt") == "dflt"  # disabled configuration
    assert get_value_for_org("orga", "RICHIE_URL") is None  # exact match only
    assert get_value_for_org("Nobody", "RICHIE_URL", default=3) == 3


# --- student ------------------------------------------------------------------


def test_enroll_status_change_values():
    assert EnrollStatusChange.enroll == "enroll"
    assert EnrollStatusChange.unenroll == "unenroll"
    assert {"upgrade_start", "upgrade_complete", "paid_start", "paid_complete"} <= set(vars(EnrollStatusChange))


@pytest.mark.django_db
def test_enroll_and_unenroll_send_signal_and_flip_is_active(django_user_model, signal_calls):
    user = django_user_model.objects.create(username="learner")

    enrollment = CourseEnrollment.enroll(user, KEY, mode="verified")
    assert enrollment.is_active and enrollment.mode == "verified"
    assert signal_calls == [
        {
            "sender": None,
            "event": EnrollStatusChange.enroll,
            "user": user,
            "course_id": KEY,
            "mode": "verified",
            "cost": None,
            "currency": None,
        }
    ]
    assert CourseEnrollment.objects.filter(course_id=KEY, is_active=True).count() == 1

    CourseEnrollment.unenroll(user, KEY)
    assert signal_calls[-1]["event"] == EnrollStatusChange.unenroll
    assert signal_calls[-1]["course_id"] == KEY
    assert CourseEnrollment.objects.filter(course_id=KEY, is_active=True).count() == 0
    row = CourseEnrollment.objects.get(user=user, course_id=KEY)
    assert row.is_active is False
    assert isinstance(row.course_id, CourseKey) and row.course_id == KEY

    # Unenrolling again, or from a course never enrolled in, sends nothing.
    CourseEnrollment.unenroll(user, KEY)
    CourseEnrollment.unenroll(user, OTHER_KEY)
    assert len(signal_calls) == 2

    # Re-enrolling reactivates the same row, in the default mode.
    again = CourseEnrollment.enroll(user, KEY)
    assert again.pk == row.pk and again.is_active and again.mode == CourseMode.DEFAULT_MODE_SLUG == "audit"
    assert [call["event"] for call in signal_calls] == ["enroll", "unenroll", "enroll"]
    assert CourseEnrollment.objects.count() == 1


@pytest.mark.django_db
def test_active_count_per_course(django_user_model):
    for index in range(3):
        CourseEnrollment.enroll(django_user_model.objects.create(username=f"u{index}"), KEY)
    CourseEnrollment.enroll(django_user_model.objects.create(username="other"), OTHER_KEY)
    CourseEnrollment.unenroll(django_user_model.objects.get(username="u0"), KEY)
    assert CourseEnrollment.objects.filter(course_id=KEY, is_active=True).count() == 2
    assert CourseEnrollment.objects.filter(course_id=OTHER_KEY, is_active=True).count() == 1


# --- course_modes ------------------------------------------------------------------


@pytest.mark.django_db
def test_modes_for_course_default_when_none():
    modes = CourseMode.modes_for_course(course_id=KEY)
    assert modes == [CourseMode.DEFAULT_MODE]
    default = modes[0]
    assert isinstance(default, Mode)
    assert (default.slug, default.min_price, default.currency) == ("audit", 0, "usd")


def test_mode_fields_mirror_platform():
    assert Mode._fields == (
        "slug",
        "name",
        "min_price",
        "suggested_prices",
        "currency",
        "expiration_datetime",
        "description",
        "sku",
        "android_sku",
        "ios_sku",
        "bulk_sku",
    )


@pytest.mark.django_db
def test_modes_for_course_order_and_filters():
    now = timezone.now()
    CourseMode.objects.create(course_id=KEY, mode_slug="verified", mode_display_name="Verified",
                              min_price=49, currency="EUR")
    CourseMode.objects.create(course_id=KEY, mode_slug="audit", mode_display_name="Audit")
    CourseMode.objects.create(course_id=KEY, mode_slug="credit", mode_display_name="Credit", min_price=100)
    CourseMode.objects.create(course_id=KEY, mode_slug="professional", mode_display_name="Pro",
                              min_price=200, expiration_datetime=now - timedelta(days=1))
    CourseMode.objects.create(course_id=OTHER_KEY, mode_slug="honor", mode_display_name="Honor")

    modes = CourseMode.modes_for_course(course_id=KEY)
    assert [mode.slug for mode in modes] == ["verified", "audit"]
    assert (modes[0].min_price, modes[0].currency) == (49, "eur")

    with_expired = CourseMode.modes_for_course(course_id=KEY, include_expired=True)
    assert [mode.slug for mode in with_expired] == ["verified", "audit", "professional"]

    everything = CourseMode.modes_for_course(course_id=KEY, include_expired=True, only_selectable=False)
    assert [mode.slug for mode in everything] == ["verified", "audit", "credit", "professional"]

    assert [mode.slug for mode in CourseMode.modes_for_course(course_id=OTHER_KEY)] == ["honor"]

    with pytest.raises(ValueError):
        CourseMode.modes_for_course()
