"""
Django system checks: bad configuration is reported by ``manage.py check``, never by a crash.

Django aborts ``migrate`` (what Tutor's init jobs run at every launch), ``runserver`` and most
other commands when a check returns an Error. A typo in ``RICHIE_SYNC`` must not stop the whole
platform, so our errors are :class:`NonBlockingError`: shown under ERRORS by every command that
runs the checks, yet serious only when the caller asks for warnings to fail too
(``manage.py check --fail-level WARNING``). ``sync_courses_to_richie --check`` and ``--status``
exit non-zero on them, the admin shows them and the log names them once per process.
"""

import importlib.util
import os

from django.apps import apps
from django.core import checks
from django.utils.module_loading import import_string

from .configuration import get_config_and_problems

# The queues stock workers consume (Tutor's cms-worker and lms-worker command lines).
STOCK_WORKER_QUEUES = frozenset(
    {
        "edx.cms.core.default",
        "edx.cms.core.high",
        "edx.cms.core.low",
        "edx.lms.core.default",
        "edx.lms.core.high",
        "edx.lms.core.high_mem",
    }
)


class NonBlockingError(checks.Error):
    """An Error that does not abort ``migrate`` and other commands (the platform must keep running)."""

    def is_serious(self, level=checks.ERROR):
        return level < checks.ERROR and self.level >= level


def configuration_messages(config, problems):
    """System-check messages for a parsed configuration (pure but for the hook import and file checks)."""
    messages = [
        (NonBlockingError if problem.level == "error" else checks.Warning)(
            problem.message, hint=problem.hint or None, id=f"richie_sync.{problem.code}"
        )
        for problem in problems
    ]
    messages.extend(_hook_messages(config.payload_hook))
    if config.celery_queue and config.celery_queue not in STOCK_WORKER_QUEUES:
        messages.append(
            NonBlockingError(
                f"RICHIE_SYNC['CELERY_QUEUE'] is {config.celery_queue!r}, a queue no stock Open edX worker consumes "
                f"(they consume {', '.join(sorted(STOCK_WORKER_QUEUES))}): deliveries stay pending for ever.",
                hint="Leave CELERY_QUEUE unset (the platform's default queue), choose one of the queues above, or "
                "start a worker that consumes this queue and silence richie_sync.E016.",
                id="richie_sync.E016",
            )
        )
    for instance in config.instances:
        if isinstance(instance.verify_tls, str) and not os.path.isfile(instance.verify_tls):
            messages.append(
                NonBlockingError(
                    f"Richie instance {instance.name!r} VERIFY_TLS names {instance.verify_tls!r}, which is not a file "
                    "on this server: every delivery to it fails.",
                    hint="Install the CA bundle at that path in the image (or volume), or correct VERIFY_TLS.",
                    id="richie_sync.E017",
                )
            )
    return messages


def _hook_messages(payload_hook):
    """E013 when ``PAYLOAD_HOOK`` cannot be imported or is not callable."""
    if not payload_hook:
        return []
    try:
        hook = import_string(payload_hook)
    except ImportError as error:
        return [
            NonBlockingError(
                f"RICHIE_SYNC['PAYLOAD_HOOK'] {payload_hook!r} cannot be imported: {error}.",
                hint="Install the module that defines it, or remove PAYLOAD_HOOK.",
                id="richie_sync.E013",
            )
        ]
    if not callable(hook):
        return [
            NonBlockingError(f"RICHIE_SYNC['PAYLOAD_HOOK'] {payload_hook!r} is not callable.", id="richie_sync.E013")
        ]
    return []


@checks.register()
def check_richie_sync_configuration(app_configs=None, **kwargs):  # pylint: disable=unused-argument
    return configuration_messages(*get_config_and_problems())


@checks.register()
def check_earlier_plugin(app_configs=None, **kwargs):  # pylint: disable=unused-argument
    """The earlier richie-openedx-sync plugin beside this one means double deliveries and a shadowed command."""
    installed = apps.is_installed("richie_openedx_sync")
    if not installed and importlib.util.find_spec("richie_openedx_sync") is None:
        return []
    return [
        checks.Warning(
            "The earlier richie-openedx-sync plugin is "
            + ("installed and enabled" if installed else "installed")
            + ": both plugins deliver every publish to Richie (double requests), and its "
            "sync_courses_to_richie command shadows or is shadowed by this one (Django runs the first found).",
            hint="openedx-richie-sync reads its settings (RICHIE_OPENEDX_SYNC_COURSE_HOOKS, site configuration, "
            "language mapping) as they are: `pip uninstall richie-openedx-sync`, remove 'richie_openedx_sync' from "
            "INSTALLED_APPS or OPENEDX_EXTRA_PIP_REQUIREMENTS, and restart.",
            id="richie_sync.W007",
        )
    ]
