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

With tutor-contrib-richie-site-factory (Richie sites listed in ``RICHIE_SITES``) and no
``RICHIE_SYNC_INSTANCES`` of the operator's, it connects both sides (module ``sites``): one instance
per site, the same secret written into each Richie's environment, the site hosts aliased to Caddy
when HTTPS is off, the earlier connector that the site factory installs removed, and
``tutor local do richie-sync-check`` to prove the link. The former ``tutor-richie`` plugin
(14.0.0) cannot be loaded by Tutor 15 or later and is not supported.

This module runs in Tutor's own environment, where Django and the Open edX platform are absent:
it imports nothing from openedx_richie_sync.
"""

import ast
import json
import math
import pprint
import shlex
from importlib import resources

import click
import jinja2
from tutor import exceptions, hooks
from tutor import plugins as tutor_plugins

from . import sites
from .__about__ import __version__
from .sites import SYNC_PATH


def default_instances():
    """
    The Richie instance synced when the operator configures none and no site factory site exists.

    It is at ``RICHIE_HOST`` when a plugin defines it, else ``courses.<LMS_HOST>``. When the site
    factory lists sites, ``richie_sync_settings`` replaces this default by one instance per site.
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
        # Site factory: per-site instance keys ({"<site>": {"ORGS": [...]}}), and the earlier connector.
        ("RICHIE_SYNC_SITE_SETTINGS", {}),
        ("RICHIE_SYNC_REMOVE_EARLIER_CONNECTOR", True),
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
    instances = _render_leftovers(context, instances)
    per_site = sites.site_instances(context)
    if per_site is not None and instances == _render_leftovers(context, default_instances()):
        instances = per_site  # the site factory runs the Richie sites, and the operator set no instances
        if per_site:
            sites.say(
                "richie-sync: syncing the Richie sites of RICHIE_SITES: "
                + ", ".join(f"{item['NAME']} ({item['URL']})" for item in per_site)
                + " (set RICHIE_SYNC_INSTANCES to choose the instances yourself)."
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


# What the patches of the Richie sites need, found by the callbacks below.
_sites_state = {"ready": [], "regex": {}, "secrets_line": {}}


def _render_value(context, value):
    """A value taken from another plugin's patch, rendered like the patch itself."""
    if "{{" in value or "{%" in value:
        return context.environment.from_string(value).render(context.get_all())
    return value


@jinja2.pass_context
def richie_sync_site_env(context, site):
    """
    Jinja filter: the line richie-sync appends to a site's environment file (its secret for Richie).

    When another plugin already sets that variable, nothing is added: its value must then hold the
    site's secret, or the sync answers 401.
    """
    secret = sites.site_secret(context, site)
    regex = _sites_state["regex"].get(site)
    if regex is not None:
        sites.check_operator_regex(context, site, _render_value(context, regex))
    theirs = _sites_state["secrets_line"].get(site)
    if theirs is None:
        return f"{sites.SECRETS_VARIABLE}={secret}"
    if secret not in [item.strip() for item in _render_value(context, theirs).split(",")]:
        sites.say(
            f"richie-sync: Richie site {site!r}: another plugin sets {sites.SECRETS_VARIABLE} without "
            f"{sites.secret_key(site)}, the secret richie-sync signs with: every sync to that site would answer 401. "
            f"Add ,{{{{ {sites.secret_key(site)} }}}} to that line.",
            alert=True,
        )
    return ""


hooks.Filters.ENV_TEMPLATE_FILTERS.add_items(
    [
        ("richie_sync_settings", richie_sync_settings),
        ("richie_sync_sweep_command", richie_sync_sweep_command),
        ("richie_sync_site_env", richie_sync_site_env),
        ("richie_sync_removed", sites.richie_sync_removed),
        ("richie_sync_unremovable", sites.richie_sync_unremovable),
    ]
)


@hooks.Actions.CONFIG_LOADED.add()
def _remember_sites(config):
    """The site factory's sites come from the configuration: patches are named after them."""
    ready = sites.ready_sites(config)
    if ready != _sites_state["ready"]:
        _sites_state["ready"] = ready
        # Tutor caches the patches until a plugin is loaded; these depend on the configuration.
        cached = getattr(tutor_plugins, "_env_patches", None)
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


@hooks.Filters.ENV_PATCHES.add(priority=hooks.priorities.LOW)
def _site_factory_patches(patches):
    """
    After every plugin's patches: guard the earlier connector's, and add each ready site's.

    Runs last (low priority), so it sees what the site factory and the operator's plugins wrote.
    """
    result = [(name, sites.guard_earlier_connector(name, content)) for name, content in patches]
    for site in _sites_state["ready"]:
        additional = [content for name, content in patches if name == sites.env_patch(site)]
        replacement = [content for name, content in patches if name == sites.full_env_patch(site)]
        _sites_state["regex"][site] = sites.operator_regex(additional + replacement)
        _sites_state["secrets_line"][site] = sites.secrets_value(additional + replacement)
        if replacement and not any(sites.env_patch(site) in content for content in replacement) and (
            _sites_state["secrets_line"][site] is None
        ):
            sites.say(
                f"richie-sync: the patch {sites.full_env_patch(site)} of another plugin replaces Richie site "
                f"{site!r}'s whole environment file, which drops the line richie-sync adds "
                f"({sites.SECRETS_VARIABLE}): every sync to that site would answer 401. Add to that patch: "
                f"{sites.SECRETS_VARIABLE}={{{{ {sites.secret_key(site)} }}}} "
                f"(or {{{{ patch(\"{sites.env_patch(site)}\") }}}}).",
                alert=True,
            )
        result.append((sites.env_patch(site), f"{{{{ {site!r}|richie_sync_site_env }}}}"))
        # Without HTTPS the hosts do not resolve inside Docker: Caddy answers for them, as for LMS_HOST.
        result.append(("local-docker-compose-caddy-aliases", f'- "{{{{ {sites.host_key(site)} }}}}"'))
    return result


@click.command(name="richie-sync-check", help="Prove each Richie instance's URL, secret and resource links.")
@click.option("--instance", "instances", multiple=True, metavar="NAME", help="Only this instance (repeatable).")
def richie_sync_check(instances):
    """``tutor local do richie-sync-check``: ``sync_courses_to_richie --check`` in the CMS container."""
    command = "./manage.py cms sync_courses_to_richie --check"
    command += "".join(f" --instance {shlex.quote(name)}" for name in instances)
    return [("cms", command)]


hooks.Filters.CLI_DO_COMMANDS.add_item(richie_sync_check)

# Each file of patches/ is the patch of the same name.
hooks.Filters.ENV_PATCHES.add_items(
    sorted(
        (patch.name, patch.read_text(encoding="utf-8"))
        for patch in resources.files(__package__).joinpath("patches").iterdir()
        if patch.is_file()
    )
)
