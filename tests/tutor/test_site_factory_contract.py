"""
Contract with the real tutor-contrib-richie-site-factory 20.0.1 (PyPI): what both sides render.

Tutor 20 is the release the site factory declares; Tutor 22 is how operators run it today
(installed with ``--no-deps``). No Docker: the rendered environment is what Docker would run, so
the test reads it as Richie and Caddy would: the secret Richie accepts, the regex Richie reads
links with, the hosts Caddy serves and Richie allows, the image and settings of Open edX.
"""
# pylint: disable=redefined-outer-name  # pytest fixtures are passed by name

import re

import pytest
import yaml

from .conftest import Tutor
from .test_site_factory import CMS_ENV, LMS_ENV, RICHIE_DEFAULT_COURSE_REGEX, caddy_aliases, site_env
from .test_tutor_plugin import DOCKERFILE, SETTINGS_FILES, richie_sync_setting

pytestmark = pytest.mark.tutor

SITES = ("demo", "partner")
COURSE_ID = "course-v1:DemoX+Demo_Course+2026"


@pytest.fixture(params=(20, 22), ids=lambda major: f"tutor{major}")
def real_site_factory(request, tutor_venvs, site_factory, tmp_path):
    """A project with the real site factory and richie-sync; RICHIE_SITES is in config.yml before Tutor starts."""
    tutor = Tutor(tutor_venvs[request.param], tmp_path)
    tutor.extra_env = {"PYTHONPATH": str(site_factory)}
    tutor.write_config(
        PLUGINS=["richie-site-factory", "richie-sync"],
        LMS_HOST="lms.example.org",
        RICHIE_SITES=list(SITES),
        # The site factory's own prerequisites: it renders nothing without them.
        RICHIE_HOST="catalog.lms.example.org",
        ELASTICSEARCH_HOST="elasticsearch",
        RUN_ELASTICSEARCH=False,
    )
    tutor.saved = tutor.run("config", "save")
    return tutor


def test_the_real_site_factory_is_the_one_rendered(real_site_factory):
    listing = real_site_factory.run("plugins", "list").stdout
    assert re.search(r"^richie-site-factory\s.*\benabled\s+20\.0\.1$", listing, re.M), listing
    services = yaml.safe_load(real_site_factory.read("env/local/docker-compose.yml"))["services"]
    for site in SITES:
        assert services[f"richie-{site}"]["env_file"] == [f"../plugins/richie-{site}/apps/env.d/production"]


def test_both_sides_hold_the_same_secret(real_site_factory):
    config = real_site_factory.config()
    instances = {item["NAME"]: item for item in richie_sync_setting(real_site_factory, SETTINGS_FILES[0])["INSTANCES"]}
    assert sorted(instances) == [f"richie-{site}" for site in SITES]
    output = real_site_factory.saved.stdout + real_site_factory.saved.stderr
    for site in SITES:
        secret = instances[f"richie-{site}"]["SECRET"]
        assert secret == config[f"RICHIE_{site}_COURSE_RUN_SYNC_SECRETS"]
        # Richie (django-configurations ListValue) splits the variable on commas.
        accepted = site_env(real_site_factory, site)["DJANGO_RICHIE_COURSE_RUN_SYNC_SECRETS"].split(",")
        assert secret in accepted
        assert secret not in output
    for path in SETTINGS_FILES:
        assert {item["NAME"] for item in richie_sync_setting(real_site_factory, path)["INSTANCES"]} == set(instances)


def test_links_round_trip_through_each_sites_regex(real_site_factory):
    root = "http://lms.example.org"  # LMS_ROOT_URL under Tutor without HTTPS
    for instance in richie_sync_setting(real_site_factory, SETTINGS_FILES[0])["INSTANCES"]:
        site = instance["NAME"].removeprefix("richie-")
        regex = site_env(real_site_factory, site).get("EDX_COURSE_REGEX", RICHIE_DEFAULT_COURSE_REGEX)
        link = instance["RESOURCE_LINK_TEMPLATE"].format(lms_root_url=root, course_id=COURSE_ID)
        match = re.match(regex, link)
        assert match and match.group("course_id") == COURSE_ID, (link, regex)
        # Richie's split_course_key: the course code is the middle part.
        assert match.group("course_id")[len("course-v1:"):].split("+")[1] == "Demo_Course"


def test_the_url_host_is_served_by_caddy_and_allowed_by_richie(real_site_factory):
    caddyfile = real_site_factory.read("env/apps/caddy/Caddyfile")
    for instance in richie_sync_setting(real_site_factory, SETTINGS_FILES[0])["INSTANCES"]:
        site = instance["NAME"].removeprefix("richie-")
        scheme, host, path = re.fullmatch(r"(https?)://([^/:]+)(/.*)", instance["URL"]).groups()
        assert (scheme, path) == ("http", "/api/v1.0/course-runs-sync")
        block = re.search(rf"^{re.escape(host)}\{{\$default_site_port\}} \{{\n(.*?)^\}}", caddyfile, re.M | re.S)
        assert block and f'import proxy "richie-{site}:8000"' in block.group(1), caddyfile
        assert host in site_env(real_site_factory, site)["DJANGO_ALLOWED_HOSTS"].split(",")
        assert host in caddy_aliases(real_site_factory)  # workers reach it through Caddy without HTTPS


def test_the_earlier_connector_is_gone(real_site_factory):
    output = real_site_factory.saved.stdout + real_site_factory.saved.stderr
    assert "removed the earlier connector richie-openedx-sync" in output
    assert "left as is" not in output  # every patch of the earlier connector was recognised
    dockerfile = real_site_factory.read(DOCKERFILE)
    assert "richie-openedx-sync==" not in dockerfile and "install 'openedx-richie-sync==" in dockerfile
    for path in (LMS_ENV, CMS_ENV):
        text = real_site_factory.read(path)
        assert "richie_openedx_sync" not in text and "RICHIE_OPENEDX_SYNC_COURSE_HOOKS" not in text
        assert "richie_openedx_sync" not in str(yaml.safe_load(text).get("ADDL_INSTALLED_APPS", []))
