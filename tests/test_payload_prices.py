"""Prices (``payload.price_fields``): the table, the per-instance switch, course modes followed."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from openedx_richie_sync.models import CourseRunSyncState
from openedx_richie_sync.payload import price_fields
from openedx_richie_sync.tasks import sync_course_run

from .helpers import instance_settings, link, make_course, site_configuration, sweep_task_result

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "modes, expected",
    [
        (
            [("honor", 0, "usd")],
            {"offer": "free", "certificate_offer": "free", "price": None, "certificate_price": None},
        ),
        (
            [("audit", 0, "usd")],
            {"offer": "free", "certificate_offer": "free", "price": None, "certificate_price": None},
        ),
        (
            [("audit", 0, "usd"), ("verified", 49, "usd"), ("professional", 99, "usd")],
            {
                "offer": "partially_free",
                "certificate_offer": "paid",
                "certificate_price": "49.00",
                "price_currency": "USD",
                "price": None,
            },
        ),
        (
            [("honor", 0, "eur"), ("verified", 30, "eur")],
            {
                "offer": "free",
                "certificate_offer": "paid",
                "certificate_price": "30.00",
                "price_currency": "EUR",
                "price": None,
            },
        ),
        (
            [("professional", 250, "usd"), ("verified", 120, "usd")],
            {
                "offer": "paid",
                "price": "120.00",
                "price_currency": "USD",
                "certificate_offer": "free",
                "certificate_price": None,
            },
        ),
    ],
)
def test_price_table(modes, expected):
    assert price_fields(modes) == expected


def test_prices_are_sent_only_when_enabled(settings, receiver, course):
    from common.djangoapps.course_modes.models import CourseMode  # pylint: disable=import-outside-toplevel

    CourseMode.objects.create(course_id=course.id, mode_slug="audit", mode_display_name="Audit", min_price=0)
    CourseMode.objects.create(
        course_id=course.id, mode_slug="verified", mode_display_name="Verified", min_price=49, currency="eur"
    )
    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url)]}
    sync_course_run.apply(args=(str(course.id), "catalog")).get()
    assert "offer" not in receiver.runs[link(str(course.id))]
    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url, SEND_PRICES=True)]}
    sync_course_run.apply(args=(str(course.id), "catalog")).get()
    run = receiver.runs[link(str(course.id))]
    assert (run["offer"], run["certificate_offer"], run["certificate_price"], run["price_currency"]) == (
        "partially_free", "paid", "49.00", "EUR"
    )


# pylint: disable-next=too-many-positional-arguments  # pytest passes fixtures by name
def test_a_course_mode_change_reaches_the_instances_that_send_prices(
    settings, receiver, second_receiver, course, published_tasks, django_capture_on_commit_callbacks
):
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
        verified = CourseMode.objects.create(
            course_id=course.id, mode_slug="verified", mode_display_name="Verified", min_price=49
        )
    assert [(task["kwargs"]["course_id"], task["kwargs"]["instance_name"]) for task in published_tasks] == [
        (course_id, "catalog")
    ]
    assert sync_course_run.apply(kwargs=published_tasks[-1]["kwargs"]).get() == "sent"
    assert receiver.runs[link(course_id)]["price"] == "49.00"

    with django_capture_on_commit_callbacks(execute=True):
        verified.min_price = 59
        verified.save()
    assert sync_course_run.apply(kwargs=published_tasks[-1]["kwargs"]).get() == "sent"
    assert receiver.runs[link(course_id)]["price"] == "59.00"

    with django_capture_on_commit_callbacks(execute=True):
        verified.delete()
    assert sync_course_run.apply(kwargs=published_tasks[-1]["kwargs"]).get() == "sent"
    assert receiver.runs[link(course_id)]["offer"] == "free" and receiver.runs[link(course_id)]["price"] is None
    assert second_receiver.requests == []  # the instance without prices was never asked


def test_a_mode_that_expires_is_followed_by_the_sweep(settings, receiver, course, published_tasks):
    from common.djangoapps.course_modes.models import CourseMode  # pylint: disable=import-outside-toplevel

    settings.RICHIE_SYNC = {"INSTANCES": [instance_settings("catalog", receiver.url, SEND_PRICES=True)]}
    CourseMode.objects.create(course_id=course.id, mode_slug="audit", mode_display_name="Audit", min_price=0)
    expires = timezone.now() + timedelta(hours=2)
    CourseMode.objects.create(
        course_id=course.id,
        mode_slug="verified",
        mode_display_name="Verified",
        min_price=49,
        expiration_datetime=expires,
    )
    assert sync_course_run.apply(args=(str(course.id), "catalog")).get() == "sent"
    state = CourseRunSyncState.objects.get()
    assert state.refresh_at == expires and receiver.runs[link(str(course.id))]["certificate_offer"] == "paid"
    published_tasks.clear()
    assert sweep_task_result()["refreshed"] == 0  # not yet
    CourseRunSyncState.objects.filter(pk=state.pk).update(refresh_at=timezone.now() - timedelta(seconds=1))
    CourseMode.objects.filter(mode_slug="verified").update(_expiration_datetime=timezone.now() - timedelta(seconds=1))
    assert sweep_task_result()["refreshed"] == 1
    assert sync_course_run.apply(kwargs=published_tasks[-1]["kwargs"]).get() == "sent"
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
