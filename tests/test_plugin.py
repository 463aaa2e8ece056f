"""The plugin loads through the real edx-django-utils plugin functions, as the platform does."""

import importlib
import types

import pytest
from django.apps import apps
from edx_django_utils.plugins import add_plugins, get_plugin_apps
from opaque_keys.edx.keys import CourseKey
from xmodule.modulestore.django import COURSE_PUBLISHED

from openedx_richie_sync.models import CourseRunSyncState
from openedx_richie_sync.signals import course_published
from openedx_richie_sync.tasks import fan_out_deliveries
from test_support import studio

from .helpers import delivery

APP = "openedx_richie_sync.apps.RichieSyncConfig"


@pytest.mark.parametrize("project_type", ["lms.djangoapp", "cms.djangoapp"])
def test_entry_points_register_the_app(project_type):
    assert APP in get_plugin_apps(project_type)


def test_app_is_installed_without_editing_installed_apps():
    from test_support import settings as test_settings  # pylint: disable=import-outside-toplevel

    assert "openedx_richie_sync" not in " ".join(a for a in test_settings.INSTALLED_APPS if a != APP)
    assert apps.get_app_config("richie_sync").name == "openedx_richie_sync"


@pytest.mark.parametrize("project_type", ["lms.djangoapp", "cms.djangoapp"])
def test_plugin_settings_are_added(project_type):
    module = types.ModuleType("fake_settings")
    module.ENV_TOKENS = {"RICHIE_SYNC": {"INSTANCES": [{"NAME": "yaml"}]}}
    import sys  # pylint: disable=import-outside-toplevel

    sys.modules["fake_settings"] = module
    try:
        add_plugins("fake_settings", project_type, "common")
        assert module.RICHIE_SYNC == {"INSTANCES": []}  # pylint: disable=no-member  # set by add_plugins
        add_plugins("fake_settings", project_type, "production")
        # pylint: disable-next=no-member  # set by add_plugins
        assert module.RICHIE_SYNC == {"INSTANCES": [{"NAME": "yaml"}]}
    finally:
        del sys.modules["fake_settings"]


def test_course_published_receiver_is_connected():
    receivers = [entry[1]() for entry in COURSE_PUBLISHED.receivers]
    assert course_published in receivers


@pytest.mark.django_db
def test_publish_enqueues_after_commit_one_message_that_fans_out_per_instance(
    settings, published_tasks, django_capture_on_commit_callbacks
):
    settings.RICHIE_SYNC = {
        "INSTANCES": [
            {"NAME": "catalog", "URL": "https://a.example.com/api/v1.0/course-runs-sync", "SECRET": "topsecret-1"},
            {"NAME": "partner", "URL": "https://b.example.com/api/v1.0/course-runs-sync", "SECRET": "topsecret-2"},
            {
                "NAME": "other-org",
                "URL": "https://c.example.com/api/v1.0/course-runs-sync",
                "SECRET": "x",
                "ORGS": ["OtherX"],
            },
        ]
    }
    course_id = "course-v1:DemoX+Demo101+2026"
    key = CourseKey.from_string(course_id)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        studio.publish(key)
    assert published_tasks == [] and len(callbacks) == 1
    # The intent is recorded in the publish transaction itself, before anything is queued.
    assert sorted(CourseRunSyncState.objects.filter(status="pending").values_list("instance", "generation")) == [
        ("catalog", 1), ("partner", 1)
    ]
    callbacks[0]()
    # Studio's process sends one message for both instances; a worker turns it into one task per instance.
    assert [(t["task"], t["args"], t["kwargs"]) for t in published_tasks] == [
        (
            "openedx_richie_sync.tasks.fan_out_deliveries",
            [],
            {"course_id": course_id, "generations": {"catalog": 1, "partner": 1}},
        ),
    ]
    assert not published_tasks[0]["headers"]["eta"]  # the first change goes out at once
    fan_out_deliveries.apply(kwargs=published_tasks[0]["kwargs"]).get()
    assert [(t["task"], t["kwargs"]) for t in published_tasks[1:]] == [
        ("openedx_richie_sync.tasks.sync_course_run", delivery(course_id, "catalog", 1)),
        ("openedx_richie_sync.tasks.sync_course_run", delivery(course_id, "partner", 1)),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        studio.publish(key)  # while that delivery is pending: within the coalescing window
    assert [task["kwargs"]["generations"] for task in published_tasks[3:]] == [{"catalog": 2, "partner": 2}]
    assert published_tasks[3]["headers"]["eta"]  # one trailing delivery, after the window
    assert "topsecret" not in repr(published_tasks)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key",
    [
        "ccx-v1:DemoX+Demo101+2026+ccx@3",
        "library-v1:DemoX+Lib",
        "course-v1:DemoX+Demo101+2026+branch@draft-branch",
    ],
)
def test_ccx_and_library_keys_are_ignored(settings, published_tasks, django_capture_on_commit_callbacks, key):
    settings.RICHIE_SYNC = {
        "INSTANCES": [{"NAME": "catalog", "URL": "https://a.example.com/api/v1.0/course-runs-sync", "SECRET": "s"}]
    }
    importlib.import_module("ccx_keys.locator")  # registers the real ccx-v1 key type
    parsed = CourseKey.from_string(key)
    with django_capture_on_commit_callbacks(execute=True):
        studio.publish(parsed)
    if "branch" in key:  # a branch is dropped, the run itself is synced
        assert [t["kwargs"] for t in published_tasks] == [delivery("course-v1:DemoX+Demo101+2026", "catalog", 1)]
    else:
        assert published_tasks == []
