"""Django system checks: bad configuration is reported by ``manage.py check``, never by a crash."""

import importlib.util

from django.apps import apps
from django.core import checks
from django.utils.module_loading import import_string

from .configuration import parse, raw_setting

PLATFORM_QUEUE_PREFIXES = ("edx.cms.core.", "edx.lms.core.")


@checks.register()
def check_richie_sync_configuration(app_configs=None, **kwargs):  # pylint: disable=unused-argument
    config, problems = parse(raw_setting())
    messages = [
        (checks.Error if problem.level == "error" else checks.Warning)(
            problem.message, hint=problem.hint or None, id=f"richie_sync.{problem.code}"
        )
        for problem in problems
    ]
    if config.payload_hook:
        try:
            hook = import_string(config.payload_hook)
        except ImportError as error:
            messages.append(
                checks.Error(
                    f"RICHIE_SYNC['PAYLOAD_HOOK'] {config.payload_hook!r} cannot be imported: {error}.",
                    hint="Install the module that defines it, or remove PAYLOAD_HOOK.",
                    id="richie_sync.E013",
                )
            )
        else:
            if not callable(hook):
                messages.append(
                    checks.Error(f"RICHIE_SYNC['PAYLOAD_HOOK'] {config.payload_hook!r} is not callable.", id="richie_sync.E013")
                )
    if config.celery_queue and not config.celery_queue.startswith(PLATFORM_QUEUE_PREFIXES):
        messages.append(
            checks.Warning(
                f"RICHIE_SYNC['CELERY_QUEUE'] is {config.celery_queue!r}: stock Open edX workers (Tutor) only "
                "consume edx.cms.core.* and edx.lms.core.* queues, so these tasks may never run.",
                hint="Leave CELERY_QUEUE unset, or start a worker that consumes this queue.",
                id="richie_sync.W005",
            )
        )
    return messages


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
