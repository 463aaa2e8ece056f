"""
The Tutor plugin ``richie-sync``, rendered by the real Tutor of each supported major release.

The plugin is installed from its distribution, tutor-contrib-richie-sync (see conftest.py).
"""
# pylint: disable=redefined-outer-name  # pytest fixtures are passed by name

import ast
import json
import re
import zipfile
from email.parser import Parser

import pytest
import yaml

from openedx_richie_sync import __version__ as django_package_version

from .conftest import PLUGIN_DIR, REPOSITORY, Tutor, run_checked

pytestmark = pytest.mark.tutor

PLUGIN_VERSION = re.search(
    r'^__version__ = "([^"]+)"', (PLUGIN_DIR / "tutorrichiesync" / "__about__.py").read_text(), re.M
).group(1)
SETTINGS_FILES = [
    "env/apps/openedx/settings/lms/production.py",
    "env/apps/openedx/settings/lms/development.py",
    "env/apps/openedx/settings/cms/production.py",
    "env/apps/openedx/settings/cms/development.py",
]
DOCKERFILE = "env/build/openedx/Dockerfile"
LOCAL_COMPOSE = "env/local/docker-compose.yml"
DEV_COMPOSE = "env/dev/docker-compose.yml"
K8S_DEPLOYMENTS = "env/k8s/deployments.yml"
SYNC_PATH = "/api/v1.0/course-runs-sync"
SWEEP_COMMAND = "./manage.py cms sync_courses_to_richie --pending --async"
# What Tutor's openedx image installs Python packages with, read in each major's Dockerfile.
PIP_COMMANDS = {19: "pip", 20: "pip", 21: "$PIP_COMMAND", 22: "$PIP_COMMAND"}
# Installed by Tutor's own line for OPENEDX_EXTRA_PIP_REQUIREMENTS: the reference install command.
PROBE_REQUIREMENT = "probe-requirement==1.0"
# A secret that would break a settings file written with naive string formatting.
NASTY_SECRET = "it's a \"quoted\" secret \\ with ''' and \"\"\" and # and \\n"

# A stand-in for a plugin that defines RICHIE_HOST, the one setting this plugin reads from others.
FAKE_RICHIE_PLUGIN = '''
from tutor import hooks
hooks.Filters.CONFIG_DEFAULTS.add_item(("RICHIE_HOST", "courses.{{ LMS_HOST }}"))
'''


def richie_sync_setting(tutor, relative_path):
    """The value of ``RICHIE_SYNC`` in a rendered settings file (the file must be valid Python)."""
    module = ast.parse(tutor.read(relative_path))
    values = [
        ast.literal_eval(node.value)
        for node in module.body
        if isinstance(node, ast.Assign) and [getattr(target, "id", None) for target in node.targets] == ["RICHIE_SYNC"]
    ]
    assert len(values) <= 1, f"RICHIE_SYNC is assigned {len(values)} times in {relative_path}"
    return values[0] if values else None


def compose_services(tutor, relative_path):
    return yaml.safe_load(tutor.read(relative_path))["services"]


def k8s_deployment(tutor, name):
    documents = [document for document in yaml.safe_load_all(tutor.read(K8S_DEPLOYMENTS)) if document]
    [deployment] = [item for item in documents if item["kind"] == "Deployment" and item["metadata"]["name"] == name]
    return deployment


def dockerfile_stages(dockerfile):
    """{stage name: (parent stage or image, the stage's lines)} of a multi-stage Dockerfile."""
    stages = {}
    for block in re.split(r"^(?=FROM )", dockerfile, flags=re.M)[1:]:
        header, *body = block.splitlines()
        match = re.fullmatch(r"FROM (\S+) AS (\S+)", header)
        assert match, header
        stages[match.group(2)] = (match.group(1), body)
    return stages


def stage_lineage(stages, name):
    """The lines of ``name`` and of the stages it is built FROM: what its RUN lines inherit."""
    lines = []
    while name in stages:
        parent, body = stages[name]
        lines = body + lines
        name = parent
    return lines


def install_command(dockerfile, requirement):
    """(stage, command, RUN mounts) of the RUN line that installs ``requirement``."""
    install = dockerfile.index(f"install '{requirement}'")
    stage = dockerfile[dockerfile.rindex("\nFROM ", 0, install):].splitlines()[1].split()[-1]
    run = dockerfile[dockerfile.rindex("\nRUN ", 0, install):dockerfile.index("\n", install)]
    command = run.rsplit("\n", 1)[-1].strip()
    return stage, command, re.findall(r"--mount=(\S+)", run)


@pytest.fixture(scope="session")
def enabled(tutor_venv, tmp_path_factory):
    """A project where the operator enabled the plugin and saved some settings."""
    tutor = Tutor(tutor_venv, tmp_path_factory.mktemp("enabled"))
    tutor.run("config", "save")
    enable = tutor.run("plugins", "enable", "richie-sync")
    assert "richie-sync" in enable.stdout
    tutor.run(
        "config", "save",
        "--set", "LMS_HOST=lms.example.org",
        "--set", "ENABLE_HTTPS=true",
        "--set", 'RICHIE_SYNC_EXTRA_SETTINGS={"MAX_RETRIES": 3, "LANGUAGE_MAPPING": {"es-419": "es-mx"}}',
        "--set", "RICHIE_SYNC_SWEEP_INTERVAL=120",
        "--set", f'OPENEDX_EXTRA_PIP_REQUIREMENTS=["{PROBE_REQUIREMENT}"]',
    )
    return tutor


def test_the_distribution_ships_the_plugin_for_tutor_19_to_22(plugin_wheel):
    with zipfile.ZipFile(plugin_wheel) as wheel:
        names = wheel.namelist()
        [metadata] = [name for name in names if name.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(wheel.read(metadata).decode())
        [entry_points] = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
        entry_points = wheel.read(entry_points).decode()
    assert metadata["Name"] == "tutor-contrib-richie-sync"
    assert metadata["Version"] == PLUGIN_VERSION
    [requirement] = metadata.get_all("Requires-Dist")
    name, specifiers = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*\(?([^)]*)\)?", requirement).groups()
    assert (name, sorted(specifiers.split(","))) == ("tutor", ["<23.0.0", ">=19.0.0"])
    assert metadata["Requires-Python"] == ">=3.9"
    assert re.search(r"^\[tutor\.plugin\.v1\]\nrichie-sync = tutorrichiesync\.plugin$", entry_points, re.M)
    patches = sorted(path.name for path in (PLUGIN_DIR / "tutorrichiesync" / "patches").iterdir())
    assert sorted(name.split("/")[-1] for name in names if name.startswith("tutorrichiesync/patches/")) == patches
    assert not [name for name in names if name.startswith("openedx_richie_sync")]


def test_the_plugin_installs_the_django_package_of_its_own_release():
    """RICHIE_SYNC_VERSION defaults to ``==<plugin version>``: the two are released together."""
    assert PLUGIN_VERSION == django_package_version


def test_the_django_package_holds_no_tutor_code():
    package = REPOSITORY / "openedx_richie_sync"
    assert not (package / "tutor").exists()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                assert not [alias for alias in node.names if alias.name.split(".")[0] == "tutor"], source
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] != "tutor", source
    assert "tutor.plugin.v1" not in (REPOSITORY / "setup.py").read_text()


def test_plugin_is_installed_through_its_entry_point(enabled, tutor_major):
    listing = enabled.run("plugins", "list").stdout
    assert re.search(rf"^richie-sync\s.*\benabled\s+{re.escape(PLUGIN_VERSION)}$", listing, re.M), listing
    assert enabled.config()["PLUGINS"].count("richie-sync") == 1
    assert enabled.run("--version").stdout.startswith(f"tutor, version {tutor_major}.")
    # The plugin's requirement on Tutor holds for the Tutor installed.
    assert "No broken requirements" in run_checked([str(enabled.venv / "bin" / "pip"), "check"]).stdout


def test_plugin_imports_neither_django_nor_the_django_package(enabled):
    """Tutor's environment has no Django and no openedx_richie_sync: the plugin must not need them."""
    enabled.python(
        "import sys\n"
        "import tutorrichiesync.plugin\n"
        "absent = ('django', 'celery', 'opaque_keys', 'edx_django_utils', 'openedx_richie_sync')\n"
        "loaded = sorted(name for name in sys.modules if name.split('.')[0] in absent)\n"
        "assert not loaded, loaded\n"
    )
    for source in (PLUGIN_DIR / "tutorrichiesync").rglob("*.py"):
        imported = {
            alias.name if isinstance(node, ast.Import) else node.module or ""
            for node in ast.walk(ast.parse(source.read_text()))
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        }
        assert not [name for name in imported if name.startswith("openedx_richie_sync")], source


def test_secret_is_generated_once_and_kept_in_config_yml(enabled):
    secret = enabled.config()["RICHIE_SYNC_SECRET"]
    assert re.fullmatch(r"[A-Za-z0-9]{24}", secret)
    assert enabled.run("config", "printvalue", "RICHIE_SYNC_SECRET").stdout.strip().splitlines()[0] == secret
    enabled.run("config", "save")
    assert enabled.config()["RICHIE_SYNC_SECRET"] == secret


def test_dockerfile_installs_this_version_like_tutor_installs_extra_requirements(enabled, tutor_major):
    dockerfile = enabled.read(DOCKERFILE)
    requirement = f"openedx-richie-sync=={PLUGIN_VERSION}"
    stage, command, mounts = install_command(dockerfile, requirement)
    assert command == f"{PIP_COMMANDS[tutor_major]} install '{requirement}'"
    # In the python-requirements stage, with the pip cache mount of Tutor's own RUN lines.
    assert stage == "python-requirements"
    assert "type=cache,target=/openedx/.cache/pip,sharing=shared" in mounts
    probe_command = f"{PIP_COMMANDS[tutor_major]} install '{PROBE_REQUIREMENT}'"
    assert install_command(dockerfile, PROBE_REQUIREMENT) == (stage, probe_command, mounts)
    # The command exists where it runs: uv through the ARG of an ancestor stage, or the venv's pip.
    lineage = stage_lineage(dockerfile_stages(dockerfile), stage)
    if command.startswith("$PIP_COMMAND "):
        assert [line for line in lineage if line.startswith('ARG PIP_COMMAND="uv pip"')], lineage
        assert "COPY --from=ghcr.io/astral-sh/uv" in "\n".join(lineage)
    else:
        assert not [line for line in lineage if "PIP_COMMAND" in line]
        assert "ENV PATH=/openedx/venv/bin:${PATH}" in lineage


def test_settings_hold_the_default_instance_and_extra_settings(enabled):
    secret = enabled.config()["RICHIE_SYNC_SECRET"]
    expected = {
        "MAX_RETRIES": 3,
        "LANGUAGE_MAPPING": {"es-419": "es-mx"},
        "INSTANCES": [
            {
                # No plugin defines RICHIE_HOST: courses.<LMS_HOST>
                "NAME": "richie",
                "URL": f"https://courses.lms.example.org{SYNC_PATH}",
                "SECRET": secret,
            }
        ],
    }
    for path in SETTINGS_FILES:
        assert richie_sync_setting(enabled, path) == expected, path
        assert "\nRICHIE_SYNC = {" in enabled.read(path)


def without_selinux_label(volume):
    """Tutor labels its bind mounts for SELinux (``z``) from 21.0.8; Docker accepts the label on any release."""
    source, target, *options = volume.split(":")
    mode = "".join(options).replace("z", "")
    return ":".join([source, target] + ([mode] if mode else []))


def test_sweep_service_mirrors_the_cms_worker(enabled):
    services = compose_services(enabled, LOCAL_COMPOSE)
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
    cms_volumes = [without_selinux_label(volume) for volume in services["cms"]["volumes"]]
    for volume in (
        "../apps/openedx/settings/lms:/openedx/edx-platform/lms/envs/tutor:roz",
        "../apps/openedx/settings/cms:/openedx/edx-platform/cms/envs/tutor:roz",
        "../apps/openedx/config:/openedx/config:roz",
    ):
        assert volume in sweep["volumes"]
        assert without_selinux_label(volume) in cms_volumes


def test_sweep_uses_the_development_image_in_dev(enabled):
    sweep = compose_services(enabled, DEV_COMPOSE)["richie-sync-sweep"]
    dev_cms = compose_services(enabled, DEV_COMPOSE)["cms"]
    assert sweep["environment"]["DJANGO_SETTINGS_MODULE"] == dev_cms["environment"]["DJANGO_SETTINGS_MODULE"]
    assert sweep["image"].startswith("openedx-dev:")


def test_sweep_deployment_mirrors_the_cms_worker_in_kubernetes(enabled):
    sweep = k8s_deployment(enabled, "richie-sync-sweep")
    worker = k8s_deployment(enabled, "cms-worker")
    assert sweep["spec"]["replicas"] == 1
    labels = {"app.kubernetes.io/name": "richie-sync-sweep"}
    assert sweep["metadata"]["labels"] == sweep["spec"]["selector"]["matchLabels"] == labels
    assert sweep["spec"]["template"]["metadata"]["labels"] == labels
    pod, worker_pod = sweep["spec"]["template"]["spec"], worker["spec"]["template"]["spec"]
    assert pod["securityContext"] == worker_pod["securityContext"]
    assert pod["volumes"] == worker_pod["volumes"]
    [container], [worker_container] = pod["containers"], worker_pod["containers"]
    for key in ("image", "env", "volumeMounts", "securityContext"):
        assert container[key] == worker_container[key], key
    assert {"name": "SERVICE_VARIANT", "value": "cms"} in container["env"]
    assert container["args"][:2] == ["sh", "-c"]
    assert SWEEP_COMMAND in container["args"][2]
    assert re.search(r"\bwhile true\b.*\bsleep 120\b.*\bdone\b", container["args"][2])
    assert "$(" not in container["args"][2]  # Kubernetes would expand it
    # The settings mounted there are the ones rendered with RICHIE_SYNC.
    kustomization = yaml.safe_load(enabled.read("env/kustomization.yml"))
    assert "k8s/deployments.yml" in kustomization["resources"]
    settings_maps = {item["name"]: item["files"] for item in kustomization["configMapGenerator"]}
    assert "apps/openedx/settings/cms/production.py" in settings_maps["openedx-settings-cms"]


def test_custom_instances_survive_quotes(tutor):
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
        assert richie_sync_setting(tutor, path) == {"INSTANCES": instances}, path
    assert "install 'openedx-richie-sync>=0.1,<2'" in tutor.read(DOCKERFILE)


def test_richie_host_of_another_plugin(tutor):
    (tutor.plugins_root / "richie.py").write_text(FAKE_RICHIE_PLUGIN)
    tutor.write_config(PLUGINS=["richie", "richie-sync"], LMS_HOST="lms.example.org", RICHIE_HOST="catalog.example.org")
    tutor.run("config", "save")
    [instance] = richie_sync_setting(tutor, SETTINGS_FILES[0])["INSTANCES"]
    assert instance["URL"] == f"http://catalog.example.org{SYNC_PATH}"


def test_plugin_defining_richie_host_enabled_after_this_plugin(tutor):
    """Then Tutor renders RICHIE_SYNC_INSTANCES before RICHIE_HOST (itself a template)."""
    (tutor.plugins_root / "richie.py").write_text(FAKE_RICHIE_PLUGIN)
    tutor.write_config(PLUGINS=["richie-sync"], LMS_HOST="lms.example.org")
    tutor.run("plugins", "enable", "richie")
    expected = {
        "NAME": "richie",
        "URL": f"http://courses.lms.example.org{SYNC_PATH}",
        "SECRET": tutor.config()["RICHIE_SYNC_SECRET"],
    }
    for path in SETTINGS_FILES:
        assert richie_sync_setting(tutor, path) == {"INSTANCES": [expected]}, path


def test_disabling_removes_everything(tutor):
    tutor.write_config(PLUGINS=["richie-sync"])
    tutor.run("config", "save")
    assert "openedx-richie-sync" in tutor.read(DOCKERFILE)
    assert "richie-sync-sweep" in compose_services(tutor, LOCAL_COMPOSE)
    assert "richie-sync-sweep" in tutor.read(K8S_DEPLOYMENTS)

    tutor.run("plugins", "disable", "richie-sync")
    assert "richie-sync" not in tutor.config().get("PLUGINS", [])
    assert "openedx-richie-sync" not in tutor.read(DOCKERFILE)
    for path in SETTINGS_FILES:
        assert richie_sync_setting(tutor, path) is None, path
        assert "RICHIE_SYNC" not in tutor.read(path)
    assert "richie-sync-sweep" not in compose_services(tutor, LOCAL_COMPOSE)
    assert "richie-sync-sweep" not in (compose_services(tutor, DEV_COMPOSE) or {})
    assert "richie-sync" not in tutor.read(K8S_DEPLOYMENTS)


@pytest.mark.parametrize(
    "setting, problem, advice",
    [
        ("RICHIE_SYNC_SWEEP_INTERVAL=0", "RICHIE_SYNC_SWEEP_INTERVAL must be a whole number",
         "`tutor config save --set RICHIE_SYNC_SWEEP_INTERVAL=300`"),
        ('RICHIE_SYNC_EXTRA_SETTINGS={"INSTANCES": []}', "may not contain INSTANCES",
         "set RICHIE_SYNC_INSTANCES instead"),
        ('RICHIE_SYNC_EXTRA_SETTINGS=["MAX_RETRIES"]', "RICHIE_SYNC_EXTRA_SETTINGS must be a dict",
         "set it to a mapping, e.g. `tutor config save --set 'RICHIE_SYNC_EXTRA_SETTINGS="),
        ('RICHIE_SYNC_INSTANCES={"NAME": "x"}', "RICHIE_SYNC_INSTANCES must be a list of dicts",
         "set it to a list, e.g. `tutor config save --set 'RICHIE_SYNC_INSTANCES=[{"),
        ('RICHIE_SYNC_EXTRA_SETTINGS={"RETRY_BACKOFF": .inf}', "RICHIE_SYNC['RETRY_BACKOFF'] (float inf)",
         "write it as a quoted string or a finite number"),
        ('RICHIE_SYNC_EXTRA_SETTINGS={"START": 2026-01-01}', "RICHIE_SYNC['START'] (date ",
         "write it as a quoted string or a finite number"),
    ],
)
def test_invalid_values_are_reported_by_tutor(newest_tutor, setting, problem, advice):
    newest_tutor.write_config(PLUGINS=["richie-sync"])
    result = newest_tutor.run("config", "save", "--set", setting, check=False)
    assert result.returncode == 1
    assert problem in result.stdout + result.stderr
    assert advice in result.stdout + result.stderr


def test_every_tutor_reports_the_plugin_errors(tutor):
    tutor.write_config(PLUGINS=["richie-sync"])
    result = tutor.run("config", "save", "--set", "RICHIE_SYNC_SWEEP_INTERVAL=soon", check=False)
    assert result.returncode == 1
    message = "RICHIE_SYNC_SWEEP_INTERVAL must be a whole number of seconds (1 or more), got 'soon'"
    assert message in result.stdout + result.stderr
