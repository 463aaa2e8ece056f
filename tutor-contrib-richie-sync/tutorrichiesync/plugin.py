"""
Tutor plugin ``richie-sync``: install and configure openedx-richie-sync in a Tutor deployment.

Operators' guide: README.md beside this package. What the plugin changes:

- the openedx image (patch ``openedx-dockerfile-post-python-requirements``): installs
  ``openedx-richie-sync{{ RICHIE_SYNC_VERSION }}`` with the same command as Tutor's own install lines;
- the LMS and CMS settings (``openedx-common-settings``): ``RICHIE_SYNC = {...}``, written as a
  checked Python literal by the ``richie_sync_settings`` filter, so that no value can break the file;
- the sweep that Open edX's missing Celery beat would run: a ``richie-sync-sweep`` service
  (``tutor local``, and ``tutor dev`` with the development image) and Deployment (``tutor k8s``),
  declared like Tutor's ``cms-worker``, running ``./manage.py cms sync_courses_to_richie --pending
  --async`` every ``RICHIE_SYNC_SWEEP_INTERVAL`` seconds.

This module runs in Tutor's own environment, where Django and the Open edX platform are absent:
it imports nothing from openedx_richie_sync.
"""

import ast
import json
import math
import pprint
from importlib import resources

import jinja2
from tutor import exceptions, hooks

from .__about__ import __version__

# Where the sync endpoint lives on a Richie site.
SYNC_PATH = "/api/v1.0/course-runs-sync"


def default_instances():
    """
    The Richie instances synced when the operator configures none: one per known Richie site.

    Today that is one site, at ``RICHIE_HOST`` when a plugin defines it, else ``courses.<LMS_HOST>``.
    """
    return [
        {
            "NAME": "richie",
            "URL": (
                '{{ "https" if ENABLE_HTTPS else "http" }}://'
                '{{ RICHIE_HOST if RICHIE_HOST is defined else "courses." ~ LMS_HOST }}' + SYNC_PATH
            ),
            "SECRET": "{{ RICHIE_SYNC_SECRET }}",
        },
    ]


hooks.Filters.CONFIG_DEFAULTS.add_items(
    [
        # The Django package is released in step with this plugin.
        ("RICHIE_SYNC_VERSION", f"=={__version__}"),
        ("RICHIE_SYNC_INSTANCES", default_instances()),
        ("RICHIE_SYNC_EXTRA_SETTINGS", {}),
        ("RICHIE_SYNC_SWEEP_INTERVAL", 300),
    ]
)

hooks.Filters.CONFIG_UNIQUE.add_items(
    [
        ("RICHIE_SYNC_SECRET", "{{ 24|random_string }}"),
    ]
)


def _render_leftovers(context, value):
    """
    Render again the strings that still hold template code.

    Tutor renders each configuration value once, in the order plugins declared them. When the
    plugin defining RICHIE_HOST is enabled after this one, RICHIE_SYNC_INSTANCES is rendered
    before RICHIE_HOST, and the URL gets RICHIE_HOST's own template (e.g. ``courses.{{ LMS_HOST
    }}``) as is. When patches are rendered every configuration value is final, so a second pass
    resolves what is left.
    """
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        return context.environment.from_string(value).render(context.get_all())
    if isinstance(value, dict):
        return {key: _render_leftovers(context, item) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_leftovers(context, item) for item in value]
    return value


def _unwritable(value, where="RICHIE_SYNC"):
    """Where ``value`` holds something that has no Python literal (a date, infinity, ...), or None."""
    if isinstance(value, dict):
        for key, item in value.items():
            found = _unwritable(key, f"{where} key") or _unwritable(item, f"{where}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(value, list):
        return next(filter(None, (_unwritable(item, f"{where}[{index}]") for index, item in enumerate(value))), None)
    if value is None or isinstance(value, (str, bool, int)) or (isinstance(value, float) and math.isfinite(value)):
        return None
    return f"{where} ({type(value).__name__} {value!r})"


@jinja2.pass_context
def richie_sync_settings(context, instances, extra_settings=None):
    """
    Jinja filter: the ``RICHIE_SYNC`` setting as a Python literal.

    ``{{ RICHIE_SYNC_INSTANCES|richie_sync_settings(RICHIE_SYNC_EXTRA_SETTINGS) }}``
    """
    if not isinstance(instances, list) or not all(isinstance(item, dict) for item in instances):
        raise exceptions.TutorError(
            "RICHIE_SYNC_INSTANCES must be a list of dicts (NAME, URL, SECRET, ...), "
            f"got a {type(instances).__name__}: set it to a list, e.g. `tutor config save --set "
            "'RICHIE_SYNC_INSTANCES=[{\"NAME\": \"catalog\", \"URL\": \"https://...\", \"SECRET\": \"...\"}]'`."
        )
    extra_settings = {} if extra_settings is None else extra_settings
    if not isinstance(extra_settings, dict):
        raise exceptions.TutorError(
            f"RICHIE_SYNC_EXTRA_SETTINGS must be a dict of RICHIE_SYNC keys, got a {type(extra_settings).__name__}: "
            "set it to a mapping, e.g. `tutor config save --set 'RICHIE_SYNC_EXTRA_SETTINGS={\"MAX_RETRIES\": 10}'`."
        )
    if "INSTANCES" in extra_settings:
        raise exceptions.TutorError(
            "RICHIE_SYNC_EXTRA_SETTINGS may not contain INSTANCES: set RICHIE_SYNC_INSTANCES instead."
        )
    settings = _render_leftovers(context, {**extra_settings, "INSTANCES": instances})
    unwritable = _unwritable(settings)
    if unwritable:
        raise exceptions.TutorError(
            "RICHIE_SYNC_INSTANCES and RICHIE_SYNC_EXTRA_SETTINGS may only hold strings, numbers, "
            f"booleans, null, lists and dicts: {unwritable} cannot be written in the settings file; "
            "write it as a quoted string or a finite number."
        )
    literal = pprint.pformat(settings, sort_dicts=False, width=100)
    # What the settings file will read back: the same value, whatever quotes the strings hold.
    assert ast.literal_eval(literal) == settings, literal
    return literal


def richie_sync_sweep_command(interval):
    """Jinja filter: the sweep loop as a container command (a JSON list, valid YAML)."""
    if isinstance(interval, str) and interval.strip().isdigit():
        interval = int(interval)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise exceptions.TutorError(
            f"RICHIE_SYNC_SWEEP_INTERVAL must be a whole number of seconds (1 or more), got {interval!r}: "
            "run `tutor config save --set RICHIE_SYNC_SWEEP_INTERVAL=300`."
        )
    script = (
        "while true; do "
        "./manage.py cms sync_courses_to_richie --pending --async"
        f" || echo 'richie-sync-sweep: the sweep failed, next attempt in {interval} s' >&2; "
        f"sleep {interval}; "
        "done"
    )
    return json.dumps(["sh", "-c", script])


hooks.Filters.ENV_TEMPLATE_FILTERS.add_items(
    [
        ("richie_sync_settings", richie_sync_settings),
        ("richie_sync_sweep_command", richie_sync_sweep_command),
    ]
)

# Each file of patches/ is the patch of the same name.
hooks.Filters.ENV_PATCHES.add_items(
    sorted(
        (patch.name, patch.read_text(encoding="utf-8"))
        for patch in resources.files(__package__).joinpath("patches").iterdir()
        if patch.is_file()
    )
)
