"""
Test stand-in for ``openedx.core.lib.cache_utils``; mirrors the platform's ``request_cached``.

``request_cached(namespace)`` caches a function's return value in edx-django-utils'
``RequestCache`` (a thread-local cleared by the platform at the end of each request and after
each Celery task, never inside a management command), keyed by the function's module and name
and the string form of its arguments. Exceptions are not cached. Left out: ``arg_map_function``,
``request_cache_getter``, and the module's other helpers.
"""

import functools

from django.utils.encoding import force_str
from edx_django_utils.cache import RequestCache


def request_cached(namespace=None):
    """Cache the decorated function's result for the rest of the request (or Celery task)."""

    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            cache = RequestCache(namespace)
            key = ".".join(
                [func.__module__, func.__name__]
                + [force_str(arg) for arg in args]
                + [force_str(item) for pair in sorted(kwargs.items()) for item in pair]
            )
            cached = cache.get_cached_response(key)
            if cached.is_found:
                return cached.value
            result = func(*args, **kwargs)
            cache.set(key, result)
            return result

        return wrapper

    return decorator
