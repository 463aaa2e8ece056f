"""Reading courses from the platform: snapshots, streaming in chunks, enrollment counts, key filtering."""

import pytest
from opaque_keys.edx.keys import CourseKey

from openedx_richie_sync.platform_api import course_run_key, iter_course_runs, load_course_run

from .helpers import make_course

pytestmark = pytest.mark.django_db


def enroll(django_user_model, course, count, active=True):
    """Enroll ``count`` new users in ``course`` (active or not)."""
    from common.djangoapps.student.models import CourseEnrollment  # pylint: disable=import-outside-toplevel

    for index in range(count):
        user = django_user_model.objects.create(username=f"{course.id.course}-{index}-{active}")
        CourseEnrollment.objects.create(user=user, course_id=course.id, is_active=active)


def test_chunks_cover_every_course_once_with_their_own_counts(django_user_model):
    courses = [make_course(f"course-v1:Org{index % 3}+C{index:02d}+2026") for index in range(11)]
    for index, course in enumerate(courses):
        enroll(django_user_model, course, index % 4)
    enroll(django_user_model, courses[5], 2, active=False)
    chunks = list(iter_course_runs(chunk_size=4))
    assert [len(chunk) for chunk in chunks] == [4, 4, 3]
    runs = {run.course_id: run for chunk in chunks for run in chunk}
    assert set(runs) == {str(course.id) for course in courses}
    assert {course_id: run.enrollment_count for course_id, run in runs.items()} == {
        str(course.id): index % 4 for index, course in enumerate(courses)
    }
    assert runs[str(courses[0].id)].lms_root_url == "https://lms.example.com"


def test_filters_by_org_and_keys():
    make_course("course-v1:DemoX+A+1")
    make_course("course-v1:OtherX+B+1")
    make_course("course-v1:OtherX+C+1")
    assert [run.course_id for chunk in iter_course_runs(orgs=["otherx"]) for run in chunk] == [
        "course-v1:OtherX+B+1", "course-v1:OtherX+C+1"
    ]
    keys = [CourseKey.from_string("course-v1:DemoX+A+1"), CourseKey.from_string("course-v1:OtherX+C+1")]
    assert [run.course_id for chunk in iter_course_runs(course_keys=keys) for run in chunk] == [
        "course-v1:DemoX+A+1", "course-v1:OtherX+C+1"
    ]


def test_ccx_overviews_are_not_course_runs():
    from ccx_keys.locator import CCXLocator  # pylint: disable=import-outside-toplevel
    from openedx.core.djangoapps.content.course_overviews.models import (  # pylint: disable=import-outside-toplevel
        CourseOverview,
    )

    make_course("course-v1:DemoX+A+1")
    CourseOverview.objects.create(id=CCXLocator.from_string("ccx-v1:DemoX+A+1+ccx@2"), org="DemoX")
    assert [run.course_id for chunk in iter_course_runs() for run in chunk] == ["course-v1:DemoX+A+1"]


def test_load_course_run_snapshot(django_user_model):
    course = make_course(language="fr")
    enroll(django_user_model, course, 2)
    run = load_course_run(str(course.id))
    assert (run.course_id, run.org, run.language, run.enrollment_count) == (str(course.id), "DemoX", "fr", 2)
    assert load_course_run("course-v1:DemoX+Missing+2026") is None
    assert load_course_run("not a key") is None


@pytest.mark.parametrize(
    "value, expected",
    [
        ("course-v1:DemoX+A+1", "course-v1:DemoX+A+1"),
        ("DemoX/A/1", "DemoX/A/1"),
        ("ccx-v1:DemoX+A+1+ccx@2", None),
        ("library-v1:DemoX+Lib", None),
        ("lib:DemoX:Lib", None),
        ("garbage", None),
    ],
)
def test_course_run_key(value, expected):
    __import__("ccx_keys.locator")
    key = course_run_key(value)
    assert (str(key) if key else None) == expected
