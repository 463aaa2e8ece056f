"""
Test stand-in for ``openedx.core.djangoapps.util.signals``.

Mirrors the platform's ``task_postrun`` receiver: after every Celery task (in a worker, or run
locally with ``apply``), all request caches are cleared unless
``CLEAR_REQUEST_CACHE_ON_TASK_COMPLETION`` is False (the platform's production settings leave it
True). A management command is no Celery task: nothing clears the request cache while it runs. Left
out: the request-exception logger and the toggle-warning log filter.
"""

from celery.signals import task_postrun
from django.conf import settings
from edx_django_utils.cache import RequestCache


@task_postrun.connect
def _clear_request_cache(**kwargs):
    """Once a Celery task completes, clear the request cache."""
    if getattr(settings, "CLEAR_REQUEST_CACHE_ON_TASK_COMPLETION", True):
        RequestCache.clear_all_namespaces()
