"""
Richie sites run by tutor-contrib-richie-site-factory, and what richie-sync derives from them.

The site factory (fccn, 20.x) runs one Richie per name listed in ``RICHIE_SITES``; for a site
``<site>`` it defines ``RICHIE_<site>_HOST`` (served by Caddy, and the only host besides ``richie``
in that Richie's ``ALLOWED_HOSTS``) and ``RICHIE_<site>_COURSE_RUN_SYNC_SECRETS`` (one generated
string). Richie reads its accepted secrets from ``DJANGO_RICHIE_COURSE_RUN_SYNC_SECRETS``
(comma-separated) and its Open edX link pattern from ``EDX_COURSE_REGEX``; the site factory sets
neither, but renders the patch ``richie-<site>-production-env-additional`` into the site's
environment file, unless the operator replaces that whole file with ``richie-<site>-production-env``.
It also installs the earlier connector (``richie-openedx-sync``) with settings Richie cannot
accept. docs/tutor.md states all of this with the sources it was read in.

Everything here runs in Tutor's environment: plain functions, no Django.
"""

import re

import jinja2
from tutor import exceptions, fmt

SYNC_PATH = "/api/v1.0/course-runs-sync"
# Richie's Open edX backend matches ``^.*/courses/(?P<course_id>.*)/course/?$`` unless
# EDX_COURSE_REGEX says otherwise: this template agrees with it, and is a real LMS page.
SITE_RESOURCE_LINK_TEMPLATE = "{lms_root_url}/courses/{course_id}/course/"
RICHIE_DEFAULT_COURSE_REGEX = r"^.*/courses/(?P<course_id>.*)/course/?$"
SECRETS_VARIABLE = "DJANGO_RICHIE_COURSE_RUN_SYNC_SECRETS"
REGEX_VARIABLE = "EDX_COURSE_REGEX"
# What a site's instance takes from RICHIE_SYNC_SITE_SETTINGS: the name keeps the sync state, and
# the secret is the site's own, held by both sides.
FORBIDDEN_SITE_KEYS = ("NAME", "SECRET")
# A made-up course run, to test a site's links against its regex at `tutor config save`.
SAMPLE_COURSE_ID = "course-v1:RichieSyncOrg+RichieSyncCourse+run"

# The earlier connector's patches, as the site factory writes them (comment lines aside).
EARLIER_CONNECTOR = re.compile(r"richie[-_]openedx[-_]sync", re.I)
EARLIER_INSTALL = re.compile(
    r"RUN\s+(?:--mount=\S+\s+(?:\\\s+)?)*(?:\S*pip|\$PIP_COMMAND)\s+install\s+"
    r"['\"]?richie-openedx-sync(?:[=<>!~]=?[\w.*]+)?['\"]?\s*"
)
EARLIER_SETTINGS = re.compile(
    r"ADDL_INSTALLED_APPS:\s*-\s*richie_openedx_sync\s*"
    r"RICHIE_OPENEDX_SYNC_COURSE_HOOKS:\s*\{\{\s*patch\(\s*['\"]richie-openedx-sync-course-hooks['\"]\s*\)\s*\}\}\s*"
)
EARLIER_PATCHES = {
    "openedx-dockerfile-post-python-requirements": (EARLIER_INSTALL, "its install line in the openedx image"),
    "openedx-auth": (EARLIER_SETTINGS, "its app and RICHIE_OPENEDX_SYNC_COURSE_HOOKS in the LMS/CMS settings"),
}

_said = set()


def say(text, alert=False):
    """Print ``text`` once per Tutor command (a patch can be rendered into several files)."""
    if text not in _said:
        _said.add(text)
        (fmt.echo_alert if alert else fmt.echo_info)(text)


def host_key(site):
    """The site factory's setting of a site's public host."""
    return f"RICHIE_{site}_HOST"


def secret_key(site):
    """The site factory's setting of a site's sync secret."""
    return f"RICHIE_{site}_COURSE_RUN_SYNC_SECRETS"


def env_patch(site):
    """The patch whose lines the site factory appends to a site's environment file."""
    return f"richie-{site}-production-env-additional"


def full_env_patch(site):
    """The patch that replaces a site's whole environment file (and drops the one above)."""
    return f"richie-{site}-production-env"


def instance_name(site):
    """The richie-sync instance of a site: also the name its sync state is kept under."""
    return f"richie-{site}"


def ready_sites(config):
    """
    The sites of RICHIE_SITES whose settings the site factory has defined.

    It defines them when it is imported, from the RICHIE_SITES of config.yml: a site just added is
    ready at the next Tutor command.
    """
    sites = config.get("RICHIE_SITES")
    if not isinstance(sites, list):
        return []
    return [site for site in sites if isinstance(site, str) and host_key(site) in config and secret_key(site) in config]


def _without_comments(content):
    return "\n".join(line for line in content.splitlines() if not line.lstrip().startswith("#"))


def guard_earlier_connector(name, content):
    """
    Make the earlier connector's patch conditional on RICHIE_SYNC_REMOVE_EARLIER_CONNECTOR.

    Only a patch exactly in the site factory's form is wrapped; one that mentions the earlier
    connector otherwise gets an alert; every other patch is returned unchanged.
    """
    if not EARLIER_CONNECTOR.search(content):
        return content
    pattern, what = EARLIER_PATCHES.get(name, (None, None))
    if pattern is not None and pattern.fullmatch(_without_comments(content).strip() + "\n"):
        return (
            "{% if RICHIE_SYNC_REMOVE_EARLIER_CONNECTOR %}"
            f"{{{{ {name!r}|richie_sync_removed({what!r}) }}}}"
            f"{{% else %}}{content}{{% endif %}}"
        )
    return f"{{{{ {name!r}|richie_sync_unremovable }}}}{content}"


@jinja2.pass_context
def richie_sync_removed(context, name, what):  # pylint: disable=unused-argument
    """Jinja filter: what replaces the earlier connector's patch (a comment), said once at render."""
    say(
        f"richie-sync: removed the earlier connector richie-openedx-sync installed by another plugin "
        f"(patch {name}: {what}); RICHIE_SYNC_REMOVE_EARLIER_CONNECTOR=false keeps it."
    )
    return f"# richie-sync removed richie-openedx-sync here (patch {name}): RICHIE_SYNC_REMOVE_EARLIER_CONNECTOR"


@jinja2.pass_context
def richie_sync_unremovable(context, name):
    """Jinja filter: an alert for a patch that mentions the earlier connector but is not the known one."""
    if context.get("RICHIE_SYNC_REMOVE_EARLIER_CONNECTOR"):
        say(
            f"richie-sync: patch {name} of another plugin mentions richie-openedx-sync in a form this plugin does not "
            "know, so it was left as is: if it installs or configures the earlier connector, remove that by hand "
            "(both connectors would send to Richie).",
            alert=True,
        )
    return ""


def _scheme(context):
    return "https" if context.get("ENABLE_HTTPS") else "http"


def _site_settings(context, sites):
    """RICHIE_SYNC_SITE_SETTINGS, checked: ``{site: {instance key: value}}`` for known sites only."""
    value = context.get("RICHIE_SYNC_SITE_SETTINGS") or {}
    example = "e.g. `tutor config save --set 'RICHIE_SYNC_SITE_SETTINGS={\"<site>\": {\"ORGS\": [\"DemoX\"]}}'`"
    if not isinstance(value, dict) or not all(isinstance(item, dict) for item in value.values()):
        raise exceptions.TutorError(
            f"RICHIE_SYNC_SITE_SETTINGS must map site names to dicts of instance keys: {example}."
        )
    unknown = sorted(set(value) - set(context.get("RICHIE_SITES") or []))
    if unknown:
        raise exceptions.TutorError(
            f"RICHIE_SYNC_SITE_SETTINGS names {', '.join(map(repr, unknown))}, not in RICHIE_SITES "
            f"({', '.join(map(repr, sites)) or 'empty'}): use the site names of RICHIE_SITES."
        )
    for site, keys in value.items():
        forbidden = sorted(set(keys) & set(FORBIDDEN_SITE_KEYS))
        if forbidden:
            raise exceptions.TutorError(
                f"RICHIE_SYNC_SITE_SETTINGS[{site!r}] may not set {', '.join(forbidden)}: the instance is named "
                f"{instance_name(site)!r} and its secret is {secret_key(site)} (change that setting to rotate it)."
            )
    return value


def site_secret(context, site):
    """The site's secret, refused when Richie or an environment file would read it differently."""
    secret = context.get(secret_key(site))
    if not isinstance(secret, str) or not secret or re.search(r"[\s,'\"#]", secret):
        raise exceptions.TutorError(
            f"{secret_key(site)} must be a non-empty string without spaces, commas, quotes or '#': Richie splits "
            f"{SECRETS_VARIABLE} on commas and the environment file ends a value at the line end. "
            f"Set a new one: `tutor config save --set {secret_key(site)}=$(openssl rand -hex 16)`."
        )
    return secret


def site_instances(context):
    """
    One instance per ready site of RICHIE_SITES, or None when no site factory site is configured.

    URL at the site's public host (Caddy serves it, Richie allows it), secret the site's own, links
    that Richie's default EDX_COURSE_REGEX reads; RICHIE_SYNC_SITE_SETTINGS adds per-site keys.
    """
    sites = context.get("RICHIE_SITES")
    if not isinstance(sites, list) or not sites:
        return None
    ready = ready_sites(context.get_all())
    for site in sites:
        if site not in ready:
            say(
                f"richie-sync: Richie site {site!r} of RICHIE_SITES has no {host_key(site)} or {secret_key(site)} "
                "yet (the site factory defines them when Tutor starts): it is not synced; run `tutor config save` "
                "again.",
                alert=True,
            )
    overrides = _site_settings(context, sites)
    instances = []
    for site in ready:
        instance = {
            "NAME": instance_name(site),
            "URL": f"{_scheme(context)}://{context.get(host_key(site))}{SYNC_PATH}",
            "SECRET": site_secret(context, site),
            "RESOURCE_LINK_TEMPLATE": SITE_RESOURCE_LINK_TEMPLATE,
        }
        instance.update(overrides.get(site, {}))
        instances.append(instance)
    return instances


def sample_link(context, template):
    """The link the LMS sends for a made-up course with ``template`` (LMS_ROOT_URL as Tutor sets it)."""
    root = f"{_scheme(context)}://{context.get('LMS_HOST')}"
    base = root.split("://", 1)[-1]
    try:
        return template.format(lms_root_url=root, lms_base=base, lms_domain=base, course_id=SAMPLE_COURSE_ID,
                               org="RichieSyncOrg")
    except (KeyError, IndexError, ValueError):
        return None  # a malformed template: `./manage.py cms check` reports it


def check_operator_regex(context, site, regex):
    """Say when the EDX_COURSE_REGEX an operator set for ``site`` does not read the site's links."""
    instance = next((item for item in site_instances(context) or [] if item["NAME"] == instance_name(site)), None)
    if instance is None:
        return
    template = instance.get("RESOURCE_LINK_TEMPLATE", SITE_RESOURCE_LINK_TEMPLATE)
    link = sample_link(context, template) if isinstance(template, str) else None
    if link is None:
        return
    try:
        match = re.match(regex, link)
        course_id = match.group("course_id") if match else None
    except (re.error, IndexError):
        match, course_id = None, None
    if course_id != SAMPLE_COURSE_ID:
        say(
            f"richie-sync: Richie site {site!r} has {REGEX_VARIABLE}={regex}, which does not read this plugin's links "
            f"for that site ({link}, from RESOURCE_LINK_TEMPLATE {template!r}): every sync would fail with "
            f"\"No LMS configuration found\". Set the template that matches your regex: `tutor config save --set "
            f"'RICHIE_SYNC_SITE_SETTINGS={{\"{site}\": {{\"RESOURCE_LINK_TEMPLATE\": \"...\"}}}}'`; then "
            "`tutor local do richie-sync-check` proves it.",
            alert=True,
        )


def _variable(contents, variable):
    """The value of ``variable`` in environment-file patches (the last line wins), or None."""
    found = None
    for content in contents:
        for line in content.splitlines():
            name, sep, value = line.strip().partition("=")
            if sep and name.strip() == variable:
                found = value.strip()
    return found


def operator_regex(contents):
    """The EDX_COURSE_REGEX that other plugins' patches set for a site's environment, or None."""
    return _variable(contents, REGEX_VARIABLE)


def secrets_value(contents):
    """The secrets that other plugins' patches already give a site's Richie, or None."""
    return _variable(contents, SECRETS_VARIABLE)
