"""
richie-sync beside a Richie site factory: both sides connected by ``tutor config save`` alone.

Rendered by the real Tutor of each major with the stand-in site factory (site_factory_standin.py);
test_site_factory_contract.py renders the same with the real tutor-contrib-richie-site-factory.
"""

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from .test_tutor_plugin import DOCKERFILE, SETTINGS_FILES, SYNC_PATH, richie_sync_setting

pytestmark = pytest.mark.tutor

STANDIN = Path(__file__).with_name("site_factory_standin.py")
# Richie's Open edX backend, unless EDX_COURSE_REGEX says otherwise (docs/tutor.md).
RICHIE_DEFAULT_COURSE_REGEX = r"^.*/courses/(?P<course_id>.*)/course/?$"
SITE_TEMPLATE = "{lms_root_url}/courses/{course_id}/course/"
PROD_COMPOSE = "env/local/docker-compose.prod.yml"
LMS_ENV = "env/apps/openedx/config/lms.env.yml"
CMS_ENV = "env/apps/openedx/config/cms.env.yml"


def site_env(tutor, site):
    """The environment file of a Richie site, as a dict (the file the site factory gives Docker)."""
    lines = tutor.read(f"env/plugins/richie-{site}/apps/env.d/production").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def caddy_aliases(tutor):
    """The names Caddy answers for inside Docker (``tutor local`` without HTTPS)."""
    caddy = yaml.safe_load(tutor.read(PROD_COMPOSE))["services"]["caddy"]
    return caddy.get("networks", {}).get("default", {}).get("aliases", [])


def with_standin(tutor, sites=("alpha", "beta"), plugins=(), **config):
    """A project with the stand-in site factory, richie-sync and ``plugins`` enabled, and its Richie sites."""
    shutil.copy(STANDIN, tutor.plugins_root / "richie-site-factory-standin.py")
    tutor.write_config(
        PLUGINS=[*plugins, "richie-site-factory-standin", "richie-sync"], LMS_HOST="lms.example.org",
        RICHIE_SITES=list(sites), **config,
    )
    return tutor.run("config", "save")


def test_one_instance_per_site_with_the_secret_both_sides_hold(tutor):
    saved = with_standin(tutor)
    config = tutor.config()
    instances = richie_sync_setting(tutor, SETTINGS_FILES[0])["INSTANCES"]
    assert [instance["NAME"] for instance in instances] == ["richie-alpha", "richie-beta"]
    for site, instance in zip(("alpha", "beta"), instances):
        secret = config[f"RICHIE_{site}_COURSE_RUN_SYNC_SECRETS"]
        assert instance == {
            "NAME": f"richie-{site}",
            "URL": f"http://{site}.lms.example.org{SYNC_PATH}",
            "SECRET": secret,
            "RESOURCE_LINK_TEMPLATE": SITE_TEMPLATE,
        }
        assert site_env(tutor, site)["DJANGO_RICHIE_COURSE_RUN_SYNC_SECRETS"] == secret
        assert secret not in saved.stdout + saved.stderr
    assert (
        "richie-sync: syncing the Richie sites of RICHIE_SITES: richie-alpha (http://alpha.lms.example.org"
        f"{SYNC_PATH}), richie-beta (http://beta.lms.example.org{SYNC_PATH})"
    ) in saved.stdout
    for path in SETTINGS_FILES:
        assert richie_sync_setting(tutor, path)["INSTANCES"] == instances, path


def test_the_links_round_trip_through_richies_default_regex(tutor):
    with_standin(tutor, sites=("alpha",), ENABLE_HTTPS=True)
    [instance] = richie_sync_setting(tutor, SETTINGS_FILES[0])["INSTANCES"]
    assert instance["URL"] == f"https://alpha.lms.example.org{SYNC_PATH}"
    assert "EDX_COURSE_REGEX" not in site_env(tutor, "alpha")  # Richie's default applies
    course_id = "course-v1:DemoX+Demo_Course+2026"
    link = instance["RESOURCE_LINK_TEMPLATE"].format(lms_root_url="https://lms.example.org", course_id=course_id)
    assert re.match(RICHIE_DEFAULT_COURSE_REGEX, link).group("course_id") == course_id


def test_site_hosts_are_aliased_to_caddy_without_https(tutor):
    with_standin(tutor)
    assert caddy_aliases(tutor) == ["lms.example.org", "alpha.lms.example.org", "beta.lms.example.org"]
    tutor.run("config", "save", "--set", "ENABLE_HTTPS=true")
    assert caddy_aliases(tutor) == []  # public DNS and certificates then


def test_the_earlier_connector_is_removed_and_config_save_says_so(tutor):
    saved = with_standin(tutor)
    output = saved.stdout + saved.stderr
    assert "removed the earlier connector richie-openedx-sync" in output
    assert "patch openedx-dockerfile-post-python-requirements" in output and "patch openedx-auth" in output
    assert "richie-openedx-sync==1.4.0" not in tutor.read(DOCKERFILE)
    assert "install 'openedx-richie-sync==" in tutor.read(DOCKERFILE)
    for path in (LMS_ENV, CMS_ENV):
        text = tutor.read(path)
        assert "richie_openedx_sync" not in text and "RICHIE_OPENEDX_SYNC_COURSE_HOOKS" not in text
        yaml.safe_load(text)

    kept = tutor.run("config", "save", "--set", "RICHIE_SYNC_REMOVE_EARLIER_CONNECTOR=false")
    assert "removed the earlier connector" not in kept.stdout + kept.stderr
    assert "pip install richie-openedx-sync==1.4.0" in tutor.read(DOCKERFILE)
    assert yaml.safe_load(tutor.read(LMS_ENV))["ADDL_INSTALLED_APPS"] == ["richie_openedx_sync"]


def test_instances_of_the_operator_win(tutor):
    instances = [{"NAME": "catalog", "URL": "https://catalog.example.com" + SYNC_PATH, "SECRET": "s3cret"}]
    with_standin(tutor, RICHIE_SYNC_INSTANCES=instances)
    assert richie_sync_setting(tutor, SETTINGS_FILES[0])["INSTANCES"] == instances
    # The sites still get their own secret, the aliases, and no earlier connector.
    secret = tutor.config()["RICHIE_alpha_COURSE_RUN_SYNC_SECRETS"]
    assert site_env(tutor, "alpha")["DJANGO_RICHIE_COURSE_RUN_SYNC_SECRETS"] == secret
    assert "richie-openedx-sync==1.4.0" not in tutor.read(DOCKERFILE)


def test_per_site_organisations_and_template(tutor):
    site_settings = {"beta": {"ORGS": ["BetaX"], "RESOURCE_LINK_TEMPLATE": "{lms_root_url}/courses/{course_id}/info"}}
    with_standin(tutor, RICHIE_SYNC_SITE_SETTINGS=site_settings)
    alpha, beta = richie_sync_setting(tutor, SETTINGS_FILES[0])["INSTANCES"]
    assert "ORGS" not in alpha and alpha["RESOURCE_LINK_TEMPLATE"] == SITE_TEMPLATE
    assert beta["ORGS"] == ["BetaX"] and beta["RESOURCE_LINK_TEMPLATE"] == "{lms_root_url}/courses/{course_id}/info"


@pytest.mark.parametrize(
    "site_settings, words",
    [
        ({"gamma": {"ORGS": ["X"]}}, "RICHIE_SYNC_SITE_SETTINGS names 'gamma', not in RICHIE_SITES ('alpha', 'beta')"),
        ({"alpha": {"SECRET": "x"}}, "may not set SECRET: the instance is named 'richie-alpha'"),
        ({"alpha": ["ORGS"]}, "RICHIE_SYNC_SITE_SETTINGS must map site names to dicts of instance keys"),
    ],
)
def test_invalid_site_settings_are_refused(newest_tutor, site_settings, words):
    shutil.copy(STANDIN, newest_tutor.plugins_root / "richie-site-factory-standin.py")
    newest_tutor.write_config(PLUGINS=["richie-site-factory-standin", "richie-sync"], RICHIE_SITES=["alpha", "beta"])
    result = newest_tutor.run(
        "config", "save", "--set", "RICHIE_SYNC_SITE_SETTINGS=" + json.dumps(site_settings), check=False
    )
    assert result.returncode == 1 and words in result.stdout + result.stderr


def test_a_secret_richie_would_split_is_refused_without_showing_it(newest_tutor):
    shutil.copy(STANDIN, newest_tutor.plugins_root / "richie-site-factory-standin.py")
    newest_tutor.write_config(
        PLUGINS=["richie-site-factory-standin", "richie-sync"], RICHIE_SITES=["alpha"],
        RICHIE_alpha_COURSE_RUN_SYNC_SECRETS="first,second",
    )
    result = newest_tutor.run("config", "save", check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "RICHIE_alpha_COURSE_RUN_SYNC_SECRETS must be a non-empty string without spaces, commas" in output
    assert "first,second" not in output


def test_a_site_just_added_is_connected_at_the_next_save(newest_tutor):
    """The site factory reads RICHIE_SITES when Tutor starts: a new site's settings appear one command later."""
    with_standin(newest_tutor, sites=("alpha",))
    added = newest_tutor.run("config", "save", "--set", "RICHIE_SITES=[alpha, beta]")
    assert "Richie site 'beta' of RICHIE_SITES has no RICHIE_beta_HOST" in added.stdout + added.stderr
    assert "run `tutor config save` again" in added.stdout + added.stderr
    assert [item["NAME"] for item in richie_sync_setting(newest_tutor, SETTINGS_FILES[0])["INSTANCES"]] == [
        "richie-alpha"
    ]
    newest_tutor.run("config", "save")
    names = [item["NAME"] for item in richie_sync_setting(newest_tutor, SETTINGS_FILES[0])["INSTANCES"]]
    assert names == ["richie-alpha", "richie-beta"]
    assert site_env(newest_tutor, "beta")["DJANGO_RICHIE_COURSE_RUN_SYNC_SECRETS"] == (
        newest_tutor.config()["RICHIE_beta_COURSE_RUN_SYNC_SECRETS"]
    )


OPERATOR_PLUGIN = '''
from tutor import hooks
hooks.Filters.ENV_PATCHES.add_items({patches!r})
'''


def operator_patches(tutor, *patches):
    """A plugin ``operator`` of the operator's, adding ``patches`` ((name, content) pairs)."""
    (tutor.plugins_root / "operator.py").write_text(OPERATOR_PLUGIN.format(patches=list(patches)))


def test_a_full_replacement_of_the_site_env_is_reported(newest_tutor):
    operator_patches(newest_tutor, ("richie-alpha-production-env", "DJANGO_CONFIGURATION=Production"))
    saved = with_standin(newest_tutor, sites=("alpha",), plugins=["operator"])
    output = saved.stdout + saved.stderr
    assert "the patch richie-alpha-production-env of another plugin replaces Richie site 'alpha'" in output
    assert "DJANGO_RICHIE_COURSE_RUN_SYNC_SECRETS={{ RICHIE_alpha_COURSE_RUN_SYNC_SECRETS }}" in output
    assert "DJANGO_RICHIE_COURSE_RUN_SYNC_SECRETS" not in site_env(newest_tutor, "alpha")


def test_a_full_replacement_that_keeps_the_additional_patch_is_fine(newest_tutor):
    operator_patches(
        newest_tutor,
        ("richie-alpha-production-env",
         'DJANGO_CONFIGURATION=Production\n{{ patch("richie-alpha-production-env-additional") }}'),
    )
    saved = with_standin(newest_tutor, sites=("alpha",), plugins=["operator"])
    assert "replaces Richie site" not in saved.stdout + saved.stderr
    secret = newest_tutor.config()["RICHIE_alpha_COURSE_RUN_SYNC_SECRETS"]
    assert site_env(newest_tutor, "alpha")["DJANGO_RICHIE_COURSE_RUN_SYNC_SECRETS"] == secret


def test_an_operator_regex_is_kept_and_checked_against_the_links(newest_tutor):
    regex = r"^.*/courses/(?P<course_id>.*)/info/?$"
    operator_patches(newest_tutor, ("richie-alpha-production-env-additional", f"EDX_COURSE_REGEX={regex}"))
    saved = with_standin(newest_tutor, sites=("alpha",), plugins=["operator"])
    output = saved.stdout + saved.stderr
    assert site_env(newest_tutor, "alpha")["EDX_COURSE_REGEX"] == regex
    assert f"Richie site 'alpha' has EDX_COURSE_REGEX={regex}, which does not read" in output
    assert "RESOURCE_LINK_TEMPLATE" in output and "tutor local do richie-sync-check" in output

    template = "{lms_root_url}/courses/{course_id}/info"
    site_settings = {"alpha": {"RESOURCE_LINK_TEMPLATE": template}}
    aligned = newest_tutor.run("config", "save", "--set", "RICHIE_SYNC_SITE_SETTINGS=" + json.dumps(site_settings))
    assert "does not read" not in aligned.stdout + aligned.stderr


def test_another_secret_line_must_hold_the_site_secret(newest_tutor):
    operator_patches(
        newest_tutor, ("richie-alpha-production-env-additional", "DJANGO_RICHIE_COURSE_RUN_SYNC_SECRETS=old-one")
    )
    saved = with_standin(newest_tutor, sites=("alpha",), plugins=["operator"])
    assert "another plugin sets DJANGO_RICHIE_COURSE_RUN_SYNC_SECRETS without RICHIE_alpha_COURSE_RUN_SYNC_SECRETS" in (
        saved.stdout + saved.stderr
    )
    assert site_env(newest_tutor, "alpha")["DJANGO_RICHIE_COURSE_RUN_SYNC_SECRETS"] == "old-one"  # not fought

    operator_patches(
        newest_tutor,
        ("richie-alpha-production-env-additional",
         "DJANGO_RICHIE_COURSE_RUN_SYNC_SECRETS={{ RICHIE_alpha_COURSE_RUN_SYNC_SECRETS }},old-one"),
    )
    rotated = newest_tutor.run("config", "save")
    assert "DJANGO_RICHIE_COURSE_RUN_SYNC_SECRETS without" not in rotated.stdout + rotated.stderr


def test_richie_sync_check_is_a_do_command(tutor):
    with_standin(tutor, sites=("alpha",))
    listing = tutor.run("local", "do", "--help").stdout
    assert re.search(r"^\s+richie-sync-check\s+Prove each Richie instance", listing, re.M), listing
    tutor.python(
        "from tutorrichiesync.plugin import richie_sync_check\n"
        "assert richie_sync_check.callback(instances=()) == "
        "[('cms', './manage.py cms sync_courses_to_richie --check')]\n"
        "assert richie_sync_check.callback(instances=('richie-alpha', 'a b')) == "
        "[('cms', \"./manage.py cms sync_courses_to_richie --check --instance richie-alpha --instance 'a b'\")]\n"
    )


def test_without_sites_nothing_changes(tutor):
    """The site factory enabled with no site: the default instance, and no site patch."""
    saved = with_standin(tutor, sites=())
    [instance] = richie_sync_setting(tutor, SETTINGS_FILES[0])["INSTANCES"]
    assert instance["NAME"] == "richie" and instance["URL"] == f"http://courses.lms.example.org{SYNC_PATH}"
    assert caddy_aliases(tutor) == ["lms.example.org"]
    assert "richie-openedx-sync==1.4.0" not in tutor.read(DOCKERFILE)
    assert "removed the earlier connector" in saved.stdout + saved.stderr
