"""
Test stand-in for ``openedx.core.djangoapps.content.course_overviews.signals``.

Mirrors the platform's two modulestore receivers: on ``course_published`` the overview is rebuilt
from the modulestore (synchronously, in the publishing request's transaction), on ``course_deleted``
the overview row is deleted. Left out: the change signals (start date, pacing, certificates) and the
openedx_catalog sync.
"""

from xmodule.modulestore.django import SignalHandler

from .models import CourseOverview


def _listen_for_course_publish(sender, course_key, **kwargs):  # pylint: disable=unused-argument
    CourseOverview.load_from_module_store(course_key)


def _listen_for_course_delete(sender, course_key, **kwargs):  # pylint: disable=unused-argument
    CourseOverview.objects.filter(id=course_key).delete()


SignalHandler.course_published.connect(_listen_for_course_publish, dispatch_uid="course_overviews.publish")
SignalHandler.course_deleted.connect(_listen_for_course_delete, dispatch_uid="course_overviews.delete")
