"""
Test stand-in for ``xmodule.course_block``; mirrors the platform's ``CourseBlock`` only as a type.

The platform's ``CourseBlock`` is an XBlock holding the course's settings. Here it is a plain
object carrying the course key (``id``, ``location``) and the fields ``CourseOverview`` copies
(``display_name``, dates, ``language``, ``catalog_visibility``...): whatever keyword arguments it
is given become attributes. Everything else (XBlock runtime, tabs, grading) is left out.
"""

from types import SimpleNamespace

DEFAULT_START_DATE = None  # the platform's is 2030-01-01; unused by the stand-ins


class CourseBlock(SimpleNamespace):
    """A course as the modulestore returns it (``id``: its CourseLocator)."""

    @property
    def location(self):
        return self.id.make_usage_key("course", "course")
