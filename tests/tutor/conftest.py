"""
The real Tutor of each supported major release, one virtualenv each, with the plugin's wheel installed.

Tutor and its requirements (mypy, kubernetes: about 280 MB) take minutes to install, so each
virtualenv is kept in ``var/tutor-venvs/<major>-py<python>`` and rebuilt only when what it was built from
changes (the Tutor release line, this Python, the plugin's setup.py). The plugin itself is built
into a wheel and reinstalled at every session: the tests run what an operator would install.

Every Tutor command runs in a fresh process (the venv's ``tutor`` script) with its own
``TUTOR_ROOT``, plugins root and ``HOME``, exactly as an operator runs it: Tutor keeps its hooks in
process-wide registries and discovers plugins once per process. No Docker:
``config save`` only renders templates into ``<root>/env``.
"""
# pylint: disable=redefined-outer-name  # pytest fixtures are passed by name

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

REPOSITORY = Path(__file__).resolve().parents[2]
PLUGIN_DIR = REPOSITORY / "tutor-contrib-richie-sync"
VENVS = REPOSITORY / "var" / "tutor-venvs"
TUTOR_MAJORS = (19, 20, 21, 22)
SITE_FACTORY = "tutor-contrib-richie-site-factory==20.0.1"
PIP_TIMEOUT = 900


def outside_environment(**variables):
    """The environment of this process without what points into the test virtualenv, Django or Tutor."""
    environment = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "VIRTUAL_ENV", "DJANGO_", "TUTOR_"))
    }
    environment.update(variables)
    return environment


def run_checked(command, env=None):
    """Run ``command`` outside the test environment; fail with its output if it exits non-zero."""
    result = subprocess.run(
        command, env=env or outside_environment(), capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, command))} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def _venv_key(major):
    """What a virtualenv is built from: when any of it changes, the virtualenv is rebuilt."""
    digest = hashlib.sha256()
    for part in (f"tutor=={major}.*", sys.version, (PLUGIN_DIR / "setup.py").read_text(encoding="utf-8")):
        digest.update(part.encode())
    return digest.hexdigest()


def _tutor_venv(major, wheel):
    """The Tutor ``major`` virtualenv with ``wheel`` installed, rebuilt only when its key changed."""
    venv = VENVS / f"{major}-py{sys.version_info.major}.{sys.version_info.minor}"
    key_file = venv / "richie-sync-key"
    key = _venv_key(major)
    pip = str(venv / "bin" / "pip")
    if key_file.exists() and key_file.read_text(encoding="utf-8") == key:
        run_checked([pip, "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel)])
    else:
        run_checked([sys.executable, "-m", "venv", "--clear", str(venv)])
        run_checked([pip, "install", "--quiet", "--no-compile", f"tutor=={major}.*", str(wheel)])
        key_file.write_text(key, encoding="utf-8")
    return venv


@pytest.fixture(scope="session")
def plugin_wheel(tmp_path_factory):
    """The plugin's distribution, built as pip builds it for an operator."""
    wheels = tmp_path_factory.mktemp("wheels")
    # Built from a copy: setuptools leaves build/ in the source folder, and reuses it.
    source = shutil.copytree(
        PLUGIN_DIR,
        tmp_path_factory.mktemp("source") / PLUGIN_DIR.name,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    run_checked([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(source)])
    [wheel] = wheels.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.testzip() is None
    return wheel


@pytest.fixture(scope="session")
def tutor_venvs(plugin_wheel):
    """{major: virtualenv}, built in parallel."""
    VENVS.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(len(TUTOR_MAJORS)) as pool:
        venvs = dict(zip(TUTOR_MAJORS, pool.map(lambda major: _tutor_venv(major, plugin_wheel), TUTOR_MAJORS)))
    return venvs


@pytest.fixture(scope="session", params=TUTOR_MAJORS, ids=lambda major: f"tutor{major}")
def tutor_major(request):
    return request.param


@pytest.fixture(scope="session")
def tutor_venv(tutor_venvs, tutor_major):
    return tutor_venvs[tutor_major]


class Tutor:
    """A Tutor project root, and the ``tutor`` command line of one virtualenv run against it."""

    def __init__(self, venv, base):
        self.venv = venv
        self.root = base / "tutor-root"
        self.plugins_root = base / "tutor-plugins"
        self.home = base / "home"
        self.extra_env = {}  # e.g. PYTHONPATH of plugins installed beside the virtualenv
        for path in (self.root, self.plugins_root, self.home):
            path.mkdir(parents=True, exist_ok=True)

    def run(self, *args, check=True):
        """Run ``tutor *args`` from the project root (the site factory writes files relative to it)."""
        env = outside_environment(
            TUTOR_ROOT=str(self.root),
            TUTOR_PLUGINS_ROOT=str(self.plugins_root),
            HOME=str(self.home),
            XDG_DATA_HOME=str(self.home / ".local" / "share"),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            **self.extra_env,
        )
        result = subprocess.run(
            [str(self.venv / "bin" / "tutor"), *args],
            env=env,
            cwd=self.root,
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

    def python(self, code):
        """Run ``code`` with the virtualenv's Python (where Tutor and the plugin are installed)."""
        return run_checked([str(self.venv / "bin" / "python"), "-c", code])

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


@pytest.fixture
def tutor(tutor_venv, tmp_path):
    """A fresh project."""
    return Tutor(tutor_venv, tmp_path)


@pytest.fixture(scope="session")
def site_factory():
    """
    The real tutor-contrib-richie-site-factory 20.0.1 from PyPI, in a folder put on PYTHONPATH.

    Installed without its dependencies (its metadata pins Tutor 20; it needs only Tutor, click and
    importlib_resources, which every Tutor virtualenv has), beside the virtualenvs rather than in
    them: ``pip check`` stays clean, and one copy serves Tutor 20 and Tutor 22. Kept in var/.
    """
    target = VENVS / f"{SITE_FACTORY.replace('==', '-')}-py{sys.version_info.major}.{sys.version_info.minor}"
    marker = target / "richie-sync-key"
    if not (marker.exists() and marker.read_text(encoding="utf-8") == SITE_FACTORY):
        shutil.rmtree(target, ignore_errors=True)
        run_checked([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
                     "--target", str(target), SITE_FACTORY])
        marker.write_text(SITE_FACTORY, encoding="utf-8")
    return target


@pytest.fixture
def newest_tutor(tutor_venvs, tmp_path):
    """A fresh project with the newest Tutor, for what the plugin decides alone, whatever the release."""
    return Tutor(tutor_venvs[TUTOR_MAJORS[-1]], tmp_path)
