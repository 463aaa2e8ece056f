"""
Richie follows what changes without a publish, through the real worker.

Course-mode prices (saved, changed, deleted in the LMS) and every change of the active enrollment count
(enrollment, deactivation, re-activation, which the platform signals only through openedx-events).
"""

# pylint: disable=redefined-outer-name  # pytest passes fixtures by name

import pytest
from django.contrib.sites.models import Site
from django.db import transaction

from test_support import studio

from ..helpers import make_course

pytestmark = pytest.mark.integration

COURSE = "course-v1:PriceX+P1+2026"
LINK = f"https://lms.example.com/courses/{COURSE}/info"


def run(richie):
    return richie.runs.get(LINK, {})


@pytest.fixture
def priced_course(live):  # pylint: disable=unused-argument
    """A course of an organisation whose site configuration turns prices on, published once."""
    from openedx.core.djangoapps.site_configuration.models import (  # pylint: disable=import-outside-toplevel
        SiteConfiguration,
    )

    site = Site.objects.create(domain="pricex.example.com", name="PriceX")
    SiteConfiguration.objects.create(
        site=site, enabled=True, site_values={"course_org_filter": ["PriceX"], "RICHIE_SYNC": {"SEND_PRICES": True}}
    )
    with transaction.atomic():
        make_course(COURSE)
        studio.publish(COURSE)
    return make_course(COURSE)


def test_course_mode_changes_reach_richie(live, richie, priced_course):
    from common.djangoapps.course_modes.models import CourseMode  # pylint: disable=import-outside-toplevel

    assert richie.wait_for(lambda r: run(r).get("offer") == "free", timeout=20), live.log_text[-3000:]
    with transaction.atomic():  # the LMS admin's request
        verified = CourseMode.objects.create(
            course_id=priced_course.id, mode_slug="verified", mode_display_name="Verified", min_price=49, currency="eur"
        )
    assert richie.wait_for(lambda r: run(r).get("price") == "49.00", timeout=20), live.log_text[-3000:]
    assert run(richie)["price_currency"] == "EUR" and run(richie)["offer"] == "paid"
    with transaction.atomic():
        verified.min_price = 59
        verified.save()
    assert richie.wait_for(lambda r: run(r).get("price") == "59.00", timeout=20), live.log_text[-3000:]
    with transaction.atomic():
        verified.delete()
    assert richie.wait_for(lambda r: run(r).get("offer") == "free" and run(r).get("price") is None, timeout=20)


def test_every_enrollment_count_change_reaches_richie(live, richie, priced_course, django_user_model):
    from common.djangoapps.student.models import CourseEnrollment  # pylint: disable=import-outside-toplevel

    assert richie.wait_for(lambda r: run(r).get("enrollment_count") == 0, timeout=20), live.log_text[-3000:]
    users = [django_user_model.objects.create(username=f"learner{index}") for index in range(3)]
    with transaction.atomic():
        enrollments = [CourseEnrollment.enroll(user, priced_course.id) for user in users]
    assert richie.wait_for(lambda r: run(r).get("enrollment_count") == 3, timeout=20), live.log_text[-3000:]
    with transaction.atomic():
        enrollments[0].deactivate()
        CourseEnrollment.unenroll(users[1], priced_course.id)
    assert richie.wait_for(lambda r: run(r).get("enrollment_count") == 1, timeout=20), live.log_text[-3000:]
    with transaction.atomic():  # re-activation: no ENROLL_STATUS_CHANGE on the platform
        enrollments[0].update_enrollment(is_active=True)
    assert richie.wait_for(lambda r: run(r).get("enrollment_count") == 2, timeout=20), live.log_text[-3000:]
