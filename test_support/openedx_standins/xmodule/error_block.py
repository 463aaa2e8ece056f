"""
Test stand-in for ``xmodule.error_block``; mirrors the platform's ``ErrorBlock`` only as a type.

The platform's modulestore returns an ``ErrorBlock`` (with ``error_msg``) in place of a course
whose content fails to load; ``CourseOverview.load_from_module_store`` then raises ``OSError``.
"""


class ErrorBlock:
    """A block that failed to load."""

    def __init__(self, course_id, error_msg):
        self.id = course_id
        self.error_msg = error_msg
