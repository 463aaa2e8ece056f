"""
A bad ``RICHIE_SYNC`` never stops the platform.

Its commands run in a real subprocess, as Tutor's init jobs run them (``./manage.py lms migrate`` at
every launch), and still show the problem.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD = {"NAME": "catalog", "URL": "https://richie.example.com/api/v1.0/course-runs-sync", "SECRET": "s3cr3t"}

# Every Error-level finding the checks know, in one setting, beside a healthy instance.
EVERY_ERROR = {
    "INSTANCES": [
        GOOD,
        {"NAME": "no-url", "SECRET": "x"},
        {"NAME": "no-secret", "URL": GOOD["URL"]},
        {"NAME": "bad-template", "URL": GOOD["URL"], "SECRET": "x", "RESOURCE_LINK_TEMPLATE": "{nope}"},
        {"NAME": "bad-timeout", "URL": GOOD["URL"], "SECRET": "x", "TIMEOUT": "ten"},
        {"NAME": "bad-orgs", "URL": GOOD["URL"], "SECRET": "x", "ORGS": 5},
        {"NAME": "bad-flags", "URL": GOOD["URL"], "SECRET": "x", "ENABLED": "yes"},
        {"NAME": "catalog", "URL": GOOD["URL"], "SECRET": "x"},
        {"URL": GOOD["URL"], "SECRET": "x"},
        {"NAME": "no-ca", "URL": GOOD["URL"], "SECRET": "x", "VERIFY_TLS": "/nonexistent/ca.pem"},
        "not a dict",
    ],
    "MAX_RETRIES": "many",
    "CELERY_QUEUE": "richie",
    "PAYLOAD_HOOK": "no_such_module.hook",
    "DEFAULT_LANGUAGE": "en-us",
    "ENROLLMENT_START_FALLBACK": "later",
}


def manage(tmp_path, richie_sync, *args):
    """Run a platform management command in its own process, configured with ``richie_sync``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RICHIE_SYNC")}
    env.update(
        DJANGO_SETTINGS_MODULE="test_support.settings",
        PYTHONPATH=str(ROOT),
        RICHIE_SYNC_DB=str(tmp_path / "platform.sqlite3"),
        RICHIE_SYNC_SETTINGS_JSON=json.dumps(richie_sync),
    )
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "richie_sync",
    [
        EVERY_ERROR, 5, "garbage", [GOOD], {"INSTANCES": {"NAME": "x"}},
        {"INSTANCES": [GOOD], "TIMEOUT": None, 7: 8, "RETRY_BACKOFF": -1}, {"INSTANCES": [GOOD], "PAYLOAD_HOOK": 5},
    ],
    ids=["every-error", "number", "string", "list", "instances-dict", "odd-keys", "hook-not-a-string"],
)
def test_migrate_runs_whatever_the_setting_holds(tmp_path, richie_sync):
    result = manage(tmp_path, richie_sync, "migrate", "--noinput")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "richie_sync.E0" in result.stderr  # shown in the launch's output, under ERRORS


def test_check_names_each_instance_and_key(tmp_path):
    result = manage(tmp_path, EVERY_ERROR, "check")
    assert result.returncode == 0, result.stderr
    for words in [
        "'no-url' has no URL", "'no-secret' has no SECRET", "'bad-template' RESOURCE_LINK_TEMPLATE",
        "'bad-timeout' TIMEOUT", "'bad-orgs' ORGS", "'bad-flags': ENABLED", "'catalog' is used twice",
        "[8] has no NAME", "[10] must be a dict", "RICHIE_SYNC['MAX_RETRIES']", "'no-ca' VERIFY_TLS",
        "CELERY_QUEUE", "PAYLOAD_HOOK", "DEFAULT_LANGUAGE", "ENROLLMENT_START_FALLBACK",
    ]:
        assert words in result.stderr
    assert "s3cr3t" not in result.stderr + result.stdout
    strict = manage(tmp_path, EVERY_ERROR, "check", "--fail-level", "WARNING")
    assert strict.returncode == 1 and "SystemCheckError" in strict.stderr
