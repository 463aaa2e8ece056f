"""
Test support: Open edX platform stand-ins, a Richie-compatible receiver, Django settings.

Like the platform's ``cms/__init__.py``, importing the project loads its Celery application so
that ``shared_task`` binds to it.
"""

from .celery_app import app as celery_app  # noqa: F401
