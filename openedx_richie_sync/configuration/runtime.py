"""
The process's configuration: parsed once, kept until a setting it reads changes.

Publishes and deliveries ask for it on every call; parsing it each time cost more than the rest
of the receiver. Deployed processes never change settings; tests do, through ``override_settings``
or pytest-django's ``settings`` fixture, which send ``setting_changed``: the cache is dropped
then. A dict changed in place sends nothing, so tests assign a new value instead.
"""

import logging
import threading

from django.core.signals import setting_changed
from django.dispatch import receiver

from .legacy import LEGACY_SETTINGS, raw_setting
from .parsing import parse

log = logging.getLogger(__package__)  # openedx_richie_sync.configuration, as operators configure it

WATCHED_SETTINGS = frozenset({"RICHIE_SYNC", *LEGACY_SETTINGS})
_cache = {}  # "parsed": (SyncConfig, problems)
_lock = threading.Lock()
_logged = set()


def get_config_and_problems():
    """``(SyncConfig, problems)`` of the current settings (see the module docstring for when it is parsed)."""
    parsed = _cache.get("parsed")
    if parsed is None:
        with _lock:
            parsed = _cache.get("parsed")
            if parsed is None:
                parsed = _cache["parsed"] = parse(raw_setting())
                _log_problems(parsed[1])
    return parsed


def get_config():
    """The usable configuration; invalid instances are left out (``manage.py check`` says why)."""
    return get_config_and_problems()[0]


def error_problems():
    """The Error-level problems of the current configuration (for the command, admin and checks)."""
    return [problem for problem in get_config_and_problems()[1] if problem.level == "error"]


def clear_config_cache():
    """Parse the settings again at the next call."""
    _cache.clear()


@receiver(setting_changed, dispatch_uid="openedx_richie_sync.configuration.setting_changed")
def _setting_changed(setting, **kwargs):
    if setting in WATCHED_SETTINGS:
        clear_config_cache()


def _log_problems(problems):
    """Log each configuration error once per process: what is skipped, and where to look."""
    for problem in problems:
        if problem.level == "error" and problem.message not in _logged:
            _logged.add(problem.message)
            log.error(
                "Richie sync configuration error (richie_sync.%s): %s %s What it names is not used: deliveries skip it "
                "until RICHIE_SYNC is fixed. `./manage.py cms check` lists every problem.",
                problem.code, problem.message, problem.hint,
            )
