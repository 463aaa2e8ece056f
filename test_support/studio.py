"""
Studio's publish and delete, as the platform performs them, for tests and the demo.

``publish(course_key, **fields)`` runs what a Studio request does when a course is saved and
published: inside one transaction (Studio's ``ATOMIC_REQUESTS``), the course is written to the
modulestore (``fields`` create or update it, e.g. ``language="fr"``), then, at the end of the
outermost bulk operation, ``course_published`` is sent with ``send_robust(sender=MixedModuleStore,
course_key=<CourseLocator>)``. The platform's own receiver rebuilds the ``CourseOverview`` row in
that transaction, then the plugin's receivers run. ``delete(course_key)`` removes the course and
sends ``course_deleted`` the same way (the platform's receiver deletes the overview row).

Both take ``hold``: seconds to keep the transaction open after the signal was sent (the rest of
a slow request), to test what happens meanwhile. The transaction commits when the function
returns; ``transaction.on_commit`` callbacks run then.
"""

import time

from django.db import transaction
from opaque_keys.edx.keys import CourseKey
from xmodule.modulestore.django import modulestore


def _key(course_key):
    return CourseKey.from_string(course_key) if isinstance(course_key, str) else course_key


def save_course(course_key, **fields):
    """Write the course to the modulestore without publishing it (like editing in Studio before publishing)."""
    return modulestore().save_course(_key(course_key), **fields)


def publish(course_key, hold=0.0, **fields):
    """Save (``fields``) and publish the course in one Studio transaction; returns the course key."""
    key = _key(course_key)
    store = modulestore()
    with transaction.atomic():
        with store.bulk_operations(key):
            store.save_course(key, **fields)
            store.publish(key)
        if hold:
            time.sleep(hold)
    return key


def delete(course_key, hold=0.0):
    """Delete the course in one Studio transaction; returns the course key."""
    key = _key(course_key)
    with transaction.atomic():
        modulestore().delete_course(key)
        if hold:
            time.sleep(hold)
    return key
