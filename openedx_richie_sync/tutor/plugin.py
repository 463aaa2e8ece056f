"""
Tutor plugin ``richie-sync``: install and configure openedx-richie-sync in a Tutor deployment.

Operator's guide
================

In the environment where ``tutor`` itself runs (not in the Open edX image)::

    pip install openedx-richie-sync
    tutor plugins enable richie-sync

By default the plugin syncs to one Richie instance named ``richie``: the one of the tutor-richie
plugin, ``http(s)://{{ RICHIE_HOST }}/api/v1.0/course-runs-sync`` (``courses.{{ LMS_HOST }}``
when tutor-richie is not enabled). To sync to other Richie sites, replace the list (YAML; each
item has the instance keys of ``RICHIE_SYNC['INSTANCES']`` in the README: ``NAME``, ``URL``,
``SECRET``, optional ``ORGS``, ``TIMEOUT``, ``RESOURCE_LINK_TEMPLATE``, ``ENABLED``,
``VERIFY_TLS``)::

    tutor config save --set 'RICHIE_SYNC_INSTANCES=[{"NAME": "catalog", "URL": "https://catalog.example.com/api/v1.0/course-runs-sync", "SECRET": "{{ RICHIE_SYNC_SECRET }}", "ORGS": ["DemoX"]}]'
    tutor config save --set 'RICHIE_SYNC_EXTRA_SETTINGS={"MAX_RETRIES": 10, "LANGUAGE_MAPPING": {"es-419": "es"}}'

(Tutor renders ``--set`` values when it saves them: ``{{ RICHIE_SYNC_SECRET }}`` is stored as the
secret itself, and only settings already in config.yml, not plugin defaults, may be used there.)

Then build the image that contains the plugin and (re)start the platform::

    tutor images build openedx
    tutor local launch            # runs the migrations of the plugin too

``RICHIE_SYNC_SECRET`` is generated once (24 letters and digits) and kept in ``config.yml``.
Print it and add it to Richie's ``RICHIE_COURSE_RUN_SYNC_SECRETS``::

    tutor config printvalue RICHIE_SYNC_SECRET

(tutor-richie configures Richie with ``RICHIE_HOOK_SECRET`` only: with it, align the two, e.g.
``tutor config save --set RICHIE_SYNC_SECRET=$(tutor config printvalue RICHIE_HOOK_SECRET)``.
tutor-richie also installs its own publish hook in the LMS; both may send, syncs are idempotent.)
Finally prove the URL and the secret of each instance::

    tutor local run cms ./manage.py cms sync_courses_to_richie --check

Settings
========

- ``RICHIE_SYNC_VERSION`` (default ``==<this package's version>``): pip version specifier
  appended to ``openedx-richie-sync`` in the openedx image (``""`` for the latest release).
- ``RICHIE_SYNC_INSTANCES``: the list above.
- ``RICHIE_SYNC_EXTRA_SETTINGS`` (default ``{}``): merged into the ``RICHIE_SYNC`` setting
  (``MAX_RETRIES``, ``RETRY_BACKOFF``, ``LANGUAGE_MAPPING``, ``DEFAULT_LANGUAGE``, ...; not
  ``INSTANCES``).
- ``RICHIE_SYNC_SWEEP_INTERVAL`` (default ``300``): seconds between two sweeps (see below).
- ``RICHIE_SYNC_SECRET``: generated, see above.

What the plugin changes
=======================

- The openedx image (``openedx-dockerfile-post-python-requirements``): ``pip install
  openedx-richie-sync{{ RICHIE_SYNC_VERSION }}``.
- The LMS and CMS settings, production and development (``openedx-common-settings``):
  ``RICHIE_SYNC = {...}``, written as a Python literal by the ``richie_sync_settings`` template
  filter, so that no value (a secret with quotes, ...) can break the settings file.
- A docker-compose service ``richie-sync-sweep`` (``local-docker-compose-services``, overridden in
  ``tutor dev`` by ``local-docker-compose-dev-services`` to use the development image and
  settings). Open edX under Tutor runs no Celery beat, so this service plays its part: it is
  declared like Tutor's ``cms-worker`` (same image, ``SERVICE_VARIANT: cms``, the same settings
  volumes) and runs ``./manage.py cms sync_courses_to_richie --pending --async`` every
  ``RICHIE_SYNC_SWEEP_INTERVAL`` seconds, which queues the deliveries that a Studio publish left
  pending (broker or worker down) and retries failed ones on the CMS workers.

Kubernetes (``tutor k8s``) is not covered: the image and the settings apply there too, but there
is no sweep deployment; run the same command from a Kubernetes CronJob if needed.

This module runs in Tutor's own environment, where Django and the Open edX platform are absent:
it must import nothing from openedx_richie_sync but ``__version__``.
"""

import ast
import json
import math
import pprint

import jinja2
from tutor import exceptions, hooks

from openedx_richie_sync import __version__

# Where the sync endpoint lives on a Richie site.
SYNC_PATH = "/api/v1.0/course-runs-sync"

DEFAULT_INSTANCES = [
    {
        "NAME": "richie",
        # RICHIE_HOST is defined by tutor-richie, with this same fallback.
        "URL": (
            '{{ "https" if ENABLE_HTTPS else "http" }}://'
            '{{ RICHIE_HOST if RICHIE_HOST is defined else "courses." ~ LMS_HOST }}' + SYNC_PATH
        ),
        "SECRET": "{{ RICHIE_SYNC_SECRET }}",
    },
]

hooks.Filters.CONFIG_DEFAULTS.add_items(
    [
        ("RICHIE_SYNC_VERSION", f"=={__version__}"),
        ("RICHIE_SYNC_INSTANCES", DEFAULT_INSTANCES),
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

    Tutor renders each configuration value once, in the order plugins declared them. When
    tutor-richie is enabled after this plugin (``tutor plugins enable richie`` in a project
    where richie-sync is enabled), RICHIE_SYNC_INSTANCES is rendered before RICHIE_HOST, and the
    URL gets RICHIE_HOST's own template (``courses.{{ LMS_HOST }}``) as is. When patches are
    rendered every configuration value is final, so a second pass resolves what is left.
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
            f"got a {type(instances).__name__}."
        )
    extra_settings = {} if extra_settings is None else extra_settings
    if not isinstance(extra_settings, dict):
        raise exceptions.TutorError(f"RICHIE_SYNC_EXTRA_SETTINGS must be a dict, got a {type(extra_settings).__name__}.")
    if "INSTANCES" in extra_settings:
        raise exceptions.TutorError(
            "RICHIE_SYNC_EXTRA_SETTINGS may not contain INSTANCES: set RICHIE_SYNC_INSTANCES instead."
        )
    settings = _render_leftovers(context, {**extra_settings, "INSTANCES": instances})
    unwritable = _unwritable(settings)
    if unwritable:
        raise exceptions.TutorError(
            "RICHIE_SYNC_INSTANCES and RICHIE_SYNC_EXTRA_SETTINGS may only hold strings, numbers, "
            f"booleans, null, lists and dicts: {unwritable} cannot be written in the settings file."
        )
    literal = pprint.pformat(settings, sort_dicts=False, width=100)
    # What the settings file will read back: the same value, whatever quotes the strings hold.
    assert ast.literal_eval(literal) == settings, literal
    return literal


def richie_sync_sweep_command(interval):
    """Jinja filter: the sweep loop as a docker-compose ``command`` (a JSON list, valid YAML)."""
    if isinstance(interval, str) and interval.strip().isdigit():
        interval = int(interval)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise exceptions.TutorError(
            f"RICHIE_SYNC_SWEEP_INTERVAL must be a whole number of seconds (1 or more), got {interval!r}."
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

hooks.Filters.ENV_PATCHES.add_items(
    [
        (
            "openedx-dockerfile-post-python-requirements",
            """\
# openedx-richie-sync (Tutor plugin "richie-sync")
RUN --mount=type=cache,target=/openedx/.cache/pip,sharing=shared \\
    $PIP_COMMAND install 'openedx-richie-sync{{ RICHIE_SYNC_VERSION }}'
""",
        ),
        (
            "openedx-common-settings",
            """\
# openedx-richie-sync (Tutor plugin "richie-sync"): the Richie catalogs kept in step
RICHIE_SYNC = {{ RICHIE_SYNC_INSTANCES|richie_sync_settings(RICHIE_SYNC_EXTRA_SETTINGS) }}
""",
        ),
        (
            "local-docker-compose-services",
            """\
# openedx-richie-sync (Tutor plugin "richie-sync"): periodic sweep, Tutor runs no Celery beat
richie-sync-sweep:
  image: {{ DOCKER_IMAGE_OPENEDX }}
  environment:
    SERVICE_VARIANT: cms
    DJANGO_SETTINGS_MODULE: cms.envs.tutor.production
  command: {{ RICHIE_SYNC_SWEEP_INTERVAL|richie_sync_sweep_command }}
  init: true
  restart: unless-stopped
  volumes:
    - ../apps/openedx/settings/lms:/openedx/edx-platform/lms/envs/tutor:roz
    - ../apps/openedx/settings/cms:/openedx/edx-platform/cms/envs/tutor:roz
    - ../apps/openedx/config:/openedx/config:roz
    - ../../data/cms:/openedx/data:z
    - ../../data/openedx-media:/openedx/media:z
    - ../../data/openedx-media-private:/openedx/media-private:z
    {%- for mount in iter_mounts(MOUNTS, "openedx", "richie-sync-sweep") %}
    - {{ mount }}:z
    {%- endfor %}
  depends_on:
    - cms
""",
        ),
        (
            "local-docker-compose-dev-services",
            """\
# openedx-richie-sync (Tutor plugin "richie-sync"): the sweep, with the development image
richie-sync-sweep:
  image: {{ DOCKER_IMAGE_OPENEDX_DEV }}
  environment:
    DJANGO_SETTINGS_MODULE: cms.envs.tutor.development
""",
        ),
    ]
)
