"""Checks that the Open edX test stand-ins behave like the platform modules they mirror."""

# pylint: disable=redefined-outer-name  # pytest passes fixtures by name

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from celery import shared_task
from common.djangoapps.course_modes.models import CourseMode, Mode
from common.djangoapps.student.models import CourseEnrollment, EnrollStatusChange
from common.djangoapps.student.signals.signals import ENROLL_STATUS_CHANGE
from django.contrib.sites.models import Site
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from edx_django_utils.cache import RequestCache
from opaque_keys.edx.keys import CourseKey
from openedx.core.djangoapps.content.course_overviews.models import CourseOverview
from openedx.core.djangoapps.site_configuration.helpers import get_value_for_org
from openedx.core.djangoapps.site_configuration.models import SiteConfiguration
from openedx_events.learning.signals import (
    COURSE_ENROLLMENT_CHANGED,
    COURSE_ENROLLMENT_CREATED,
    COURSE_UNENROLLMENT_COMPLETED,
)
from xmodule.modulestore.django import COURSE_DELETED, COURSE_PUBLISHED, SignalHandler, SwitchedSignal, modulestore
from xmodule.modulestore.mixed import MixedModuleStore

from test_support import studio

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


@pytest.fixture
def sent():
    """Names of the ENROLL_STATUS_CHANGE events and openedx-events sent during a test, in order."""
    names = []
    signals = {
        "CHANGED": COURSE_ENROLLMENT_CHANGED,
        "CREATED": COURSE_ENROLLMENT_CREATED,
        "UNENROLLMENT_COMPLETED": COURSE_UNENROLLMENT_COMPLETED,
    }
    receivers = {}
    for name, signal in signals.items():
        def receiver(sender, name=name, **kwargs):  # pylint: disable=unused-argument
            names.append(
                name
                if name != "CHANGED"
                else f"CHANGED(active={kwargs['enrollment'].is_active}, mode={kwargs['enrollment'].mode})"
            )
        receivers[name] = receiver
        signal.connect(receiver, weak=False, dispatch_uid=f"test-standins-{name}")

    def status(sender, event, **kwargs):  # pylint: disable=unused-argument
        names.append(f"ENROLL_STATUS_CHANGE({event})")

    ENROLL_STATUS_CHANGE.connect(status, weak=False, dispatch_uid="test-standins-status")
    yield names
    ENROLL_STATUS_CHANGE.disconnect(dispatch_uid="test-standins-status")
    for name, signal in signals.items():
        signal.disconnect(dispatch_uid=f"test-standins-{name}")


# --- xmodule.modulestore.django ---------------------------------------------


def test_modulestore_signal_aliases():
    assert COURSE_PUBLISHED is SignalHandler.course_published
    assert COURSE_DELETED is SignalHandler.course_deleted
    assert COURSE_PUBLISHED is not COURSE_DELETED
    assert isinstance(COURSE_PUBLISHED, SwitchedSignal) and COURSE_PUBLISHED.name == "course_published"


def test_switched_signal_can_be_disabled():
    received = []

    def good(sender, course_key, **kwargs):  # pylint: disable=unused-argument
        received.append(course_key)

    COURSE_PUBLISHED.connect(good, weak=False, dispatch_uid="good")
    try:
        with COURSE_PUBLISHED.for_state(is_enabled=False):
            # The platform's exact value, an empty list:
            # pylint: disable-next=use-implicit-booleaness-not-comparison
            assert COURSE_PUBLISHED.send_robust(sender=MixedModuleStore, course_key=KEY) == []
            # pylint: disable-next=use-implicit-booleaness-not-comparison
            assert COURSE_PUBLISHED.send(sender=MixedModuleStore, course_key=KEY) == []
        assert not received
        COURSE_PUBLISHED.send_robust(sender=MixedModuleStore, course_key=KEY)
        assert received == [KEY]
    finally:
        COURSE_PUBLISHED.disconnect(dispatch_uid="good")


@pytest.mark.django_db
def test_studio_publish_sends_like_the_modulestore_inside_a_transaction():
    calls = []

    def spy(sender, course_key, **kwargs):
        in_studio_transaction = len(connection.savepoint_ids) > outside  # pytest-django holds the outer transaction
        calls.append((sender, course_key, in_studio_transaction, CourseOverview.objects.get(id=course_key).language))

    outside = len(connection.savepoint_ids)

    COURSE_PUBLISHED.connect(spy, weak=False, dispatch_uid="spy")
    try:
        studio.publish(KEY, language="fr", display_name="CS")
        studio.publish(str(KEY), language="de")
    finally:
        COURSE_PUBLISHED.disconnect(dispatch_uid="spy")
    # The platform's receiver (connected first) already rebuilt the overview; the sender is the store's class.
    assert calls == [(MixedModuleStore, KEY, True, "fr"), (MixedModuleStore, KEY, True, "de")]


@pytest.mark.django_db
def test_course_published_once_per_outermost_bulk_operation():
    calls = []
    COURSE_PUBLISHED.connect(lambda sender, course_key, **kw: calls.append(course_key), weak=False, dispatch_uid="spy")
    store = modulestore()
    try:
        with store.bulk_operations(KEY):
            store.save_course(KEY, language="en")
            store.publish(KEY)
            assert not calls  # not before the outermost bulk operation ends
            store.publish(KEY)
        assert calls == [KEY, KEY]
    finally:
        COURSE_PUBLISHED.disconnect(dispatch_uid="spy")


@pytest.mark.django_db
def test_studio_delete_removes_course_and_overview():
    studio.publish(KEY, language="en")
    assert CourseOverview.objects.filter(id=KEY).exists()
    studio.delete(KEY)
    assert not CourseOverview.objects.filter(id=KEY).exists()  # the platform's receiver deleted it
    assert modulestore().get_course(KEY) is None
    with pytest.raises(CourseOverview.DoesNotExist):
        CourseOverview.get_from_id(KEY)


def test_course_published_send_robust_delivers_key_and_swallows_errors():
    received = []

    def good(sender, course_key, **kwargs):  # pylint: disable=unused-argument  # a receiver's signature
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


@pytest.mark.django_db
def test_get_from_id_is_request_cached_until_the_cache_is_cleared():
    CourseOverview.objects.create(id=KEY, org="OrgA", language="en")
    first = CourseOverview.get_from_id(KEY)
    CourseOverview.objects.filter(id=KEY).update(language="fr")
    with CaptureQueriesContext(connection) as queries:
        assert CourseOverview.get_from_id(KEY) is first and first.language == "en"
    assert len(queries) == 0
    RequestCache.clear_all_namespaces()  # what the end of a request or Celery task does
    assert CourseOverview.get_from_id(KEY).language == "fr"


@pytest.mark.django_db
def test_rows_created_directly_are_current():
    CourseOverview.objects.update_or_create(id=KEY, defaults={"org": "OrgA"})
    assert CourseOverview.objects.get(id=KEY).version == CourseOverview.VERSION


@pytest.mark.django_db
def test_get_from_id_rebuilds_a_missing_or_outdated_overview_from_the_modulestore():
    studio.save_course(KEY, display_name="From Studio", language="fr", catalog_visibility="about")
    overview = CourseOverview.get_from_id(KEY)  # no row yet: built and saved
    assert (overview.display_name, overview.language, overview.org) == ("From Studio", "fr", "OrgA")
    assert CourseOverview.objects.get(id=KEY).version == CourseOverview.VERSION

    CourseOverview.objects.filter(id=KEY).update(version=CourseOverview.VERSION - 1, language="stale")
    studio.save_course(KEY, language="de")
    assert CourseOverview.get_all_courses().get(id=KEY).language == "stale"  # rows as stored
    RequestCache.clear_all_namespaces()
    assert CourseOverview.get_from_id(KEY).language == "de"  # outdated: rebuilt
    assert CourseOverview.objects.get(id=KEY).version == CourseOverview.VERSION

    CourseOverview.objects.filter(id=KEY).update(language="current row")
    studio.save_course(KEY, language="it")
    RequestCache.clear_all_namespaces()
    assert CourseOverview.get_from_id(KEY).language == "current row"  # current: not rebuilt


@pytest.mark.django_db
def test_get_from_id_raises_oserror_for_a_course_that_fails_to_load():
    modulestore().break_course(KEY, "broken XML")
    with pytest.raises(OSError):
        CourseOverview.get_from_id(KEY)
    CourseOverview.objects.create(id=KEY, org="OrgA", version=CourseOverview.VERSION - 1)
    with pytest.raises(OSError):
        CourseOverview.get_from_id(KEY)


# --- request cache after Celery tasks ------------------------------------------------


@shared_task
def _fill_request_cache():
    RequestCache("test-standins").set("key", "value")


def test_request_cache_is_cleared_after_each_celery_task(settings):
    assert settings.CLEAR_REQUEST_CACHE_ON_TASK_COMPLETION is True
    RequestCache("test-standins").set("before", "value")
    _fill_request_cache.apply().get()
    assert not RequestCache("test-standins").get_cached_response("key").is_found
    assert not RequestCache("test-standins").get_cached_response("before").is_found
    settings.CLEAR_REQUEST_CACHE_ON_TASK_COMPLETION = False
    _fill_request_cache.apply().get()
    assert RequestCache("test-standins").get_cached_response("key").is_found


# --- plugins -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "project_type, urlconf, connected",
    [
        ("lms.djangoapp", "lms.urls", ["enrollment_changed"]),
        ("cms.djangoapp", "cms.urls", ["course_deleted", "course_published", "enrollment_changed"]),
    ],
)
def test_plugins_config_picks_the_project_type_from_root_urlconf(project_type, urlconf, connected):
    code = """
import django; django.setup()
from django.conf import settings
from openedx_events.learning.signals import COURSE_ENROLLMENT_CHANGED
from xmodule.modulestore.django import COURSE_DELETED, COURSE_PUBLISHED
names = sorted(r[1]().__name__ for signal in (COURSE_ENROLLMENT_CHANGED, COURSE_PUBLISHED, COURSE_DELETED)
               for r in signal.receivers if r[1]().__module__ == "openedx_richie_sync.signals")
print(settings.ROOT_URLCONF, ",".join(names))
"""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "test_support.settings", "PYTHONPATH": str(root),
           "RICHIE_SYNC_PROJECT_TYPE": project_type}
    output = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True)
    assert output.stdout.split() == [urlconf, ",".join(connected)]


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
    assert SiteConfiguration.has_org("OrgB") and not SiteConfiguration.has_org("OrgD")
    assert SiteConfiguration.get_value_for_org("OrgC", "RICHIE_URL") == "https://b.example.com"


@pytest.mark.django_db
def test_get_value_for_org_has_no_ordering_and_no_cache():
    for name in ("first", "second"):
        SiteConfiguration.objects.create(
            site=Site.objects.create(domain=f"{name}.example.com", name=name),
            enabled=True,
            site_values={"course_org_filter": ["OrgA"], "RICHIE_URL": f"https://{name}.example.com"},
        )
    # Two configurations claim OrgA: either may answer (the platform's query has no ORDER BY).
    answers = {get_value_for_org("OrgA", "RICHIE_URL") for _ in range(40)}
    assert answers == {"https://first.example.com", "https://second.example.com"}
    with CaptureQueriesContext(connection) as queries:
        get_value_for_org("OrgA", "RICHIE_URL")
        get_value_for_org("OrgA", "RICHIE_URL")
    assert len(queries) == 4  # has_org and the lookup, each call: nothing cached


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


@pytest.mark.django_db
def test_enrollment_signals_and_events_are_the_platforms(django_user_model, sent):
    user = django_user_model.objects.create(username="learner", email="learner@example.com")

    enrollment = CourseEnrollment.enroll(user, KEY)
    assert sent == ["CHANGED(active=True, mode=audit)", "ENROLL_STATUS_CHANGE(enroll)", "CREATED"]
    sent.clear()
    CourseEnrollment.enroll(user, KEY)  # already active: still ENROLL_STATUS_CHANGE, no CHANGED
    assert sent == ["ENROLL_STATUS_CHANGE(enroll)", "CREATED"]
    sent.clear()
    enrollment.refresh_from_db()
    enrollment.update_enrollment(is_active=False)
    assert sent == ["CHANGED(active=False, mode=audit)", "ENROLL_STATUS_CHANGE(unenroll)", "UNENROLLMENT_COMPLETED"]
    sent.clear()
    enrollment.update_enrollment(is_active=True)  # re-activation: NO ENROLL_STATUS_CHANGE
    assert sent == ["CHANGED(active=True, mode=audit)"]
    sent.clear()
    enrollment.deactivate()
    enrollment.activate()
    assert sent == ["CHANGED(active=False, mode=audit)", "ENROLL_STATUS_CHANGE(unenroll)", "UNENROLLMENT_COMPLETED",
                    "CHANGED(active=True, mode=audit)"]
    sent.clear()
    enrollment.update_enrollment(mode="verified")
    enrollment.update_enrollment(mode="verified", is_active=True)  # nothing changes: nothing sent
    assert sent == ["CHANGED(active=True, mode=verified)"]
    sent.clear()
    CourseEnrollment.unenroll(user, KEY)
    CourseEnrollment.unenroll(user, KEY)  # already inactive: nothing
    assert sent == ["CHANGED(active=False, mode=verified)", "ENROLL_STATUS_CHANGE(unenroll)", "UNENROLLMENT_COMPLETED"]
    assert CourseEnrollment.objects.filter(course_id=KEY, is_active=True).count() == 0


@pytest.mark.django_db
def test_enroll_by_email_goes_through_enroll(django_user_model, sent):
    django_user_model.objects.create(username="learner", email="learner@example.com")
    assert CourseEnrollment.enroll_by_email("learner@example.com", KEY).is_active
    assert CourseEnrollment.enroll_by_email("nobody@example.com", KEY) is None
    CourseEnrollment.unenroll_by_email("learner@example.com", KEY)
    assert sent == ["CHANGED(active=True, mode=audit)", "ENROLL_STATUS_CHANGE(enroll)", "CREATED",
                    "CHANGED(active=False, mode=audit)", "ENROLL_STATUS_CHANGE(unenroll)", "UNENROLLMENT_COMPLETED"]


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


@pytest.mark.django_db
def test_modes_for_course_is_request_cached_and_invalidated_on_save_and_delete():
    published = []
    COURSE_PUBLISHED.connect(
        lambda sender, course_key, **kw: published.append(course_key), weak=False, dispatch_uid="spy"
    )
    try:
        assert CourseMode.modes_for_course(course_id=KEY) == [CourseMode.DEFAULT_MODE]
        mode = CourseMode.objects.create(course_id=KEY, mode_slug="verified", mode_display_name="V", min_price=10)
        assert [m.slug for m in CourseMode.modes_for_course(course_id=KEY)] == ["verified"]  # cleared on save
        CourseMode.objects.filter(id=mode.id).update(min_price=99)  # no save(): the cache is not cleared
        with CaptureQueriesContext(connection) as queries:
            assert CourseMode.modes_for_course(course_id=KEY)[0].min_price == 10
        assert len(queries) == 0
        mode.delete()
        assert CourseMode.modes_for_course(course_id=KEY) == [CourseMode.DEFAULT_MODE]  # cleared on delete
        assert not published  # saving a mode publishes nothing
    finally:
        COURSE_PUBLISHED.disconnect(dispatch_uid="spy")
