"""
The Tutor plugin ``richie-sync``, rendered by the real Tutor.

Every Tutor command runs in a fresh process (``tutor.commands.cli.main``, the ``tutor`` console
script) with its own ``TUTOR_ROOT``, plugins root and ``HOME``, exactly as an operator runs it:
Tutor keeps its hooks in process-wide registries and discovers plugins once per process, so
running it inside pytest's process would leak plugins from one test to the next. The plugin is
found through its ``tutor.plugin.v1`` entry point (the package is installed in editable mode).
No Docker, no network: ``config save`` only renders templates into ``<root>/env``.
"""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from openedx_richie_sync import __version__

pytest.importorskip("tutor", reason="tutor is in requirements/test.in")

SETTINGS_FILES = [
    "env/apps/openedx/settings/lms/production.py",
    "env/apps/openedx/settings/lms/development.py",
    "env/apps/openedx/settings/cms/production.py",
    "env/apps/openedx/settings/cms/development.py",
]
DOCKERFILE = "env/build/openedx/Dockerfile"
LOCAL_COMPOSE = "env/local/docker-compose.yml"
DEV_COMPOSE = "env/dev/docker-compose.yml"
SYNC_PATH = "/api/v1.0/course-runs-sync"
SWEEP_COMMAND = "./manage.py cms sync_courses_to_richie --pending --async"
# A secret that would break a settings file written with naive string formatting.
NASTY_SECRET = "it's a \"quoted\" secret \\ with ''' and \"\"\" and # and \\n"

# A stand-in for the tutor-richie plugin: the one setting this plugin reads from it.
FAKE_TUTOR_RICHIE = '''
from tutor import hooks
hooks.Filters.CONFIG_DEFAULTS.add_item(("RICHIE_HOST", "courses.{{ LMS_HOST }}"))
'''


class Tutor:
    """A Tutor project root, and the ``tutor`` command line run against it."""

    def __init__(self, base):
        self.root = base / "tutor-root"
        self.plugins_root = base / "tutor-plugins"
        self.home = base / "home"
        for path in (self.root, self.plugins_root, self.home):
            path.mkdir(parents=True, exist_ok=True)

    def run(self, *args, check=True):
        env = {key: value for key, value in os.environ.items() if not key.startswith("TUTOR_")}
        env.update(
            TUTOR_ROOT=str(self.root),
            TUTOR_PLUGINS_ROOT=str(self.plugins_root),
            HOME=str(self.home),
            XDG_DATA_HOME=str(self.home / ".local" / "share"),
            XDG_CONFIG_HOME=str(self.home / ".config"),
        )
        env.pop("DJANGO_SETTINGS_MODULE", None)
        result = subprocess.run(
            [sys.executable, "-c", "from tutor.commands.cli import main; main()", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"tutor {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def write_config(self, **values):
        """Edit config.yml by hand, as operators may (values are written as YAML)."""
        path = self.root / "config.yml"
        config = yaml.safe_load(path.read_text()) if path.exists() else {}
        config.update(values)
        path.write_text(yaml.safe_dump(config))

    def config(self):
        return yaml.safe_load((self.root / "config.yml").read_text())

    def read(self, relative_path):
        return (self.root / relative_path).read_text()

    def richie_sync_setting(self, relative_path):
        """The value of ``RICHIE_SYNC`` in a rendered settings file (the file must be valid Python)."""
        module = ast.parse(self.read(relative_path))
        values = [
            ast.literal_eval(node.value)
            for node in module.body
            if isinstance(node, ast.Assign)
            and [getattr(target, "id", None) for target in node.targets] == ["RICHIE_SYNC"]
        ]
        assert len(values) <= 1, f"RICHIE_SYNC is assigned {len(values)} times in {relative_path}"
        return values[0] if values else None

    def compose_services(self, relative_path):
        return yaml.safe_load(self.read(relative_path))["services"]


@pytest.fixture(scope="module")
def enabled(tmp_path_factory):
    """A project where the operator enabled the plugin and saved some settings."""
    tutor = Tutor(tmp_path_factory.mktemp("enabled"))
    enabled = tutor.run("plugins", "enable", "richie-sync")
    assert "richie-sync" in enabled.stdout
    tutor.run(
        "config", "save",
        "--set", "LMS_HOST=lms.example.org",
        "--set", "ENABLE_HTTPS=true",
        "--set", 'RICHIE_SYNC_EXTRA_SETTINGS={"MAX_RETRIES": 3, "LANGUAGE_MAPPING": {"es-419": "es-mx"}}',
        "--set", "RICHIE_SYNC_SWEEP_INTERVAL=120",
    )
    return tutor


def test_plugin_is_installed_through_its_entry_point(enabled):
    listing = enabled.run("plugins", "list").stdout
    assert re.search(rf"^richie-sync\s.*\benabled\s+{re.escape(__version__)}$", listing, re.M), listing
    assert enabled.config()["PLUGINS"].count("richie-sync") == 1


def test_secret_is_generated_once_and_kept_in_config_yml(enabled):
    secret = enabled.config()["RICHIE_SYNC_SECRET"]
    assert re.fullmatch(r"[A-Za-z0-9]{24}", secret)
    assert enabled.run("config", "printvalue", "RICHIE_SYNC_SECRET").stdout.strip().splitlines()[0] == secret
    enabled.run("config", "save")
    assert enabled.config()["RICHIE_SYNC_SECRET"] == secret


def test_dockerfile_installs_this_version(enabled):
    dockerfile = enabled.read(DOCKERFILE)
    assert f"$PIP_COMMAND install 'openedx-richie-sync=={__version__}'" in dockerfile
    install = dockerfile.index("openedx-richie-sync==")
    # In the python-requirements stage, with the pip cache mount of Tutor's own RUN lines.
    stage = dockerfile[dockerfile.rindex("\nFROM ", 0, install):].splitlines()[1]
    assert stage == "FROM python AS python-requirements"
    run = dockerfile[dockerfile.rindex("\nRUN ", 0, install):install]
    assert "--mount=type=cache,target=/openedx/.cache/pip,sharing=shared" in run


def test_settings_hold_the_default_instance_and_extra_settings(enabled):
    secret = enabled.config()["RICHIE_SYNC_SECRET"]
    expected = {
        "MAX_RETRIES": 3,
        "LANGUAGE_MAPPING": {"es-419": "es-mx"},
        "INSTANCES": [
            {
                # tutor-richie is not enabled: its default host, courses.<LMS_HOST>
                "NAME": "richie",
                "URL": f"https://courses.lms.example.org{SYNC_PATH}",
                "SECRET": secret,
            }
        ],
    }
    for path in SETTINGS_FILES:
        assert enabled.richie_sync_setting(path) == expected, path


def test_sweep_service_mirrors_the_cms_worker(enabled):
    services = enabled.compose_services(LOCAL_COMPOSE)
    sweep = services["richie-sync-sweep"]
    assert sweep["image"] == services["cms"]["image"]
    assert sweep["environment"] == {"SERVICE_VARIANT": "cms", "DJANGO_SETTINGS_MODULE": "cms.envs.tutor.production"}
    assert sweep["command"][:2] == ["sh", "-c"]
    script = sweep["command"][2]
    assert SWEEP_COMMAND in script
    assert re.search(r"\bwhile true\b.*\bsleep 120\b.*\bdone\b", script)
    assert "$" not in script  # docker-compose would interpolate it
    assert sweep["restart"] == "unless-stopped"
    assert sweep["depends_on"] == ["cms"]
    for volume in (
        "../apps/openedx/settings/lms:/openedx/edx-platform/lms/envs/tutor:roz",
        "../apps/openedx/settings/cms:/openedx/edx-platform/cms/envs/tutor:roz",
        "../apps/openedx/config:/openedx/config:roz",
    ):
        assert volume in sweep["volumes"]
        assert volume in services["cms"]["volumes"]


def test_sweep_uses_the_development_image_in_dev(enabled):
    sweep = enabled.compose_services(DEV_COMPOSE)["richie-sync-sweep"]
    dev_cms = enabled.compose_services(DEV_COMPOSE)["cms"]
    assert sweep["environment"]["DJANGO_SETTINGS_MODULE"] == dev_cms["environment"]["DJANGO_SETTINGS_MODULE"]
    assert sweep["image"].startswith("openedx-dev:")


def test_custom_instances_survive_quotes(tmp_path):
    tutor = Tutor(tmp_path)
    tutor.write_config(PLUGINS=["richie-sync"])
    instances = [
        {"NAME": "catalog", "URL": "https://catalog.example.com" + SYNC_PATH, "SECRET": NASTY_SECRET,
         "ORGS": ["DemoX"], "TIMEOUT": 5, "VERIFY_TLS": False},
        {"NAME": "partner", "URL": "https://partner.example.net" + SYNC_PATH, "SECRET": "other", "ENABLED": False},
    ]
    tutor.run(
        "config", "save",
        "--set", "RICHIE_SYNC_INSTANCES=" + json.dumps(instances),
        "--set", "RICHIE_SYNC_VERSION=>=0.1,<2",
    )
    assert tutor.config()["RICHIE_SYNC_INSTANCES"] == instances
    for path in SETTINGS_FILES:
        assert tutor.richie_sync_setting(path) == {"INSTANCES": instances}, path
    assert "install 'openedx-richie-sync>=0.1,<2'" in tutor.read(DOCKERFILE)


def test_richie_host_of_tutor_richie(tmp_path):
    tutor = Tutor(tmp_path)
    (tutor.plugins_root / "richie.py").write_text(FAKE_TUTOR_RICHIE)
    tutor.write_config(PLUGINS=["richie", "richie-sync"], LMS_HOST="lms.example.org", RICHIE_HOST="catalog.example.org")
    tutor.run("config", "save")
    [instance] = tutor.richie_sync_setting(SETTINGS_FILES[0])["INSTANCES"]
    assert instance["URL"] == f"http://catalog.example.org{SYNC_PATH}"


def test_tutor_richie_enabled_after_this_plugin(tmp_path):
    """Then Tutor renders RICHIE_SYNC_INSTANCES before RICHIE_HOST (itself a template)."""
    tutor = Tutor(tmp_path)
    (tutor.plugins_root / "richie.py").write_text(FAKE_TUTOR_RICHIE)
    tutor.write_config(PLUGINS=["richie-sync"], LMS_HOST="lms.example.org")
    tutor.run("plugins", "enable", "richie")
    expected = {
        "NAME": "richie",
        "URL": f"http://courses.lms.example.org{SYNC_PATH}",
        "SECRET": tutor.config()["RICHIE_SYNC_SECRET"],
    }
    for path in SETTINGS_FILES:
        assert tutor.richie_sync_setting(path) == {"INSTANCES": [expected]}, path


def test_disabling_removes_everything(tmp_path):
    tutor = Tutor(tmp_path)
    tutor.write_config(PLUGINS=["richie-sync"])
    tutor.run("config", "save")
    assert "openedx-richie-sync" in tutor.read(DOCKERFILE)
    assert "richie-sync-sweep" in tutor.compose_services(LOCAL_COMPOSE)

    tutor.run("plugins", "disable", "richie-sync")
    assert "richie-sync" not in tutor.config().get("PLUGINS", [])
    assert "openedx-richie-sync" not in tutor.read(DOCKERFILE)
    for path in SETTINGS_FILES:
        assert tutor.richie_sync_setting(path) is None, path
        assert "RICHIE_SYNC" not in tutor.read(path)
    assert "richie-sync-sweep" not in tutor.compose_services(LOCAL_COMPOSE)
    assert "richie-sync-sweep" not in (tutor.compose_services(DEV_COMPOSE) or {})


@pytest.mark.parametrize(
    "setting, message",
    [
        ("RICHIE_SYNC_SWEEP_INTERVAL=0", "RICHIE_SYNC_SWEEP_INTERVAL must be a whole number"),
        ('RICHIE_SYNC_EXTRA_SETTINGS={"INSTANCES": []}', "set RICHIE_SYNC_INSTANCES instead"),
        ('RICHIE_SYNC_INSTANCES={"NAME": "x"}', "RICHIE_SYNC_INSTANCES must be a list of dicts"),
        ('RICHIE_SYNC_EXTRA_SETTINGS={"RETRY_BACKOFF": .inf}', "RICHIE_SYNC['RETRY_BACKOFF'] (float inf)"),
        ('RICHIE_SYNC_EXTRA_SETTINGS={"START": 2026-01-01}', "RICHIE_SYNC['START'] (date "),
    ],
)
def test_invalid_values_are_reported_by_tutor(tmp_path, setting, message):
    tutor = Tutor(tmp_path)
    tutor.write_config(PLUGINS=["richie-sync"])
    result = tutor.run("config", "save", "--set", setting, check=False)
    assert result.returncode == 1
    assert message in result.stdout + result.stderr


def test_plugin_module_imports_neither_django_nor_the_platform():
    """Tutor's environment has no Django: the plugin may only use openedx_richie_sync.__version__."""
    code = (
        "import sys\n"
        "import openedx_richie_sync.tutor.plugin\n"
        "platform = ('django', 'celery', 'opaque_keys', 'edx_django_utils')\n"
        "loaded = sorted(name for name in sys.modules if name.split('.')[0] in platform\n"
        "                or name.startswith('openedx_richie_sync.') and not name.startswith('openedx_richie_sync.tutor'))\n"
        "assert not loaded, loaded\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    source = Path(sys.modules["openedx_richie_sync"].__file__).parent / "tutor" / "plugin.py"
    imported = {
        (node.module, alias.name) if isinstance(node, ast.ImportFrom) else (alias.name, None)
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    own = {item for item in imported if item[0].startswith("openedx_richie_sync")}
    assert own == {("openedx_richie_sync", "__version__")}
