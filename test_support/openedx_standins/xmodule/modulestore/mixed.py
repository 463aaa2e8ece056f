"""
Test stand-in for ``xmodule.modulestore.mixed``: ``MixedModuleStore``, reduced to an in-memory course store.

Mirrored (names and behaviour the platform's callers rely on): ``get_course(course_key)``
returns the course (a ``CourseBlock``), an ``ErrorBlock`` for a course that fails to load, or
``None``; ``has_course(course_key)``; ``bulk_operations(course_key)`` is a context manager, and
``course_published`` is sent (through the store's ``SignalHandler``, ``sender=MixedModuleStore``)
when the outermost bulk operation that published the course ends, as the platform does.

Test-only methods (the real store is filled by Studio, not by calls like these):
``save_course(course_key, **fields)`` creates or updates a course, ``break_course(course_key,
message)`` makes it fail to load, ``delete_course(course_key)`` removes it and sends
``course_deleted``, ``publish(course_key)`` marks it published inside the current bulk operation.

The store lives in the process: the test process and a Celery worker do not share it (the worker
reads the ``CourseOverview`` rows the test process's publish wrote, as platform workers read
the rows the CMS refreshed on publish). Left out: Mongo, XBlocks, drafts, branches, libraries.
"""

import threading
from contextlib import contextmanager

from xmodule.course_block import CourseBlock
from xmodule.error_block import ErrorBlock


class MixedModuleStore:
    """The modulestore: courses by key, in memory."""

    def __init__(self, signal_handler=None):
        self.signal_handler = signal_handler
        self._courses = {}
        self._local = threading.local()

    # -- the platform's read API -------------------------------------------------------------

    def get_course(self, course_key, depth=0, **kwargs):  # pylint: disable=unused-argument
        return self._courses.get(str(course_key))

    def has_course(self, course_key, ignore_case=False, **kwargs):  # pylint: disable=unused-argument
        return str(course_key) in self._courses

    @contextmanager
    def bulk_operations(self, course_key, emit_signals=True, ignore_case=False):  # pylint: disable=unused-argument
        """Nestable; the outermost one sends course_published for the courses published inside it."""
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self._local.published = []
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
        if depth == 0 and emit_signals and self.signal_handler:
            published, self._local.published = self._local.published, []
            for key in published:
                self.signal_handler.send("course_published", course_key=key)

    # -- test-only writes ----------------------------------------------------------------------

    def save_course(self, course_key, **fields):
        """Create the course (``id=course_key``) or update the given fields; returns it."""
        course = self._courses.get(str(course_key))
        if not isinstance(course, CourseBlock):
            course = CourseBlock(id=course_key, org=course_key.org)
            self._courses[str(course_key)] = course
        for name, value in fields.items():
            setattr(course, name, value)
        return course

    def break_course(self, course_key, message="Failed to load the course"):
        """From now on ``get_course`` returns an ``ErrorBlock`` for this course."""
        self._courses[str(course_key)] = ErrorBlock(course_key, message)

    def publish(self, course_key):
        """Publish the course: course_published is sent when the outermost bulk operation ends."""
        with self.bulk_operations(course_key):
            self._local.published.append(course_key)

    def delete_course(self, course_key):
        """Remove the course and send course_deleted (as Studio's course deletion does)."""
        self._courses.pop(str(course_key), None)
        if self.signal_handler:
            self.signal_handler.send("course_deleted", course_key=course_key)
