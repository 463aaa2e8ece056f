"""Test stand-in for ``openedx.core.djangoapps.util`` (only the Celery request-cache receiver)."""
