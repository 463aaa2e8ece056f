"""
Integration fixtures: a real Redis broker, a real Celery worker process and real HTTP receivers.

The worker shares the test database (a SQLite file) and is configured, like a platform worker,
from the same RICHIE_SYNC the test process uses.
"""

# pylint: disable=redefined-outer-name  # pytest passes fixtures by name

import pytest
from django.conf import settings as django_settings

from test_support import celery_app
from test_support.richie_receiver import RichieReceiver
from test_support.services import CeleryWorker, RedisServer

from ..helpers import SECRET, instance_settings

PARTNER_SECRET = "partner-secret"


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def richie():
    with RichieReceiver(secrets=(SECRET,)) as server:
        yield server


@pytest.fixture(scope="session")
def partner():
    with RichieReceiver(secrets=(PARTNER_SECRET,)) as server:
        yield server


@pytest.fixture(scope="session")
def integration_settings(richie, partner):
    return {
        "INSTANCES": [
            instance_settings("catalog", richie.url, TIMEOUT=1),
            instance_settings("partner", partner.url, secret=PARTNER_SECRET, TIMEOUT=1),
        ],
        "MAX_RETRIES": 4,
        "RETRY_BACKOFF": 0.2,
        "RETRY_BACKOFF_MAX": 1.0,
        "COALESCE_SECONDS": 0.3,
        "PENDING_GRACE": 1,
        "RETRY_FAILED_AFTER": 2,
        "ENROLLMENT_COUNT_INTERVAL": 1,
    }


# Package scope: the worker (and its beat, sweeping every second) stops when the integration
# tests end, so it cannot deliver rows that later tests create in the shared database.
@pytest.fixture(scope="package")
def worker(django_db_setup, django_db_blocker, redis_server, integration_settings):  # pylint: disable=unused-argument
    """A Celery worker process (with beat) on the Redis broker, sharing the test database."""
    process = CeleryWorker(
        redis_server.url, integration_settings, django_settings.DATABASES["default"]["NAME"],
        beat=True, extra_env={"RICHIE_SYNC_SWEEP_EVERY": "1"},
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
# pylint: disable-next=too-many-positional-arguments  # pytest passes fixtures by name
def live(
    worker, redis_server, richie, partner, integration_settings, settings, transactional_db
):  # pylint: disable=unused-argument
    """Test process and worker configured alike; receivers start each test empty and without faults."""
    settings.RICHIE_SYNC = integration_settings
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = redis_server.url
    richie.reset()
    partner.reset()
    if redis_server.process is None:
        redis_server.start()
    worker.ensure_running()
    yield worker
    celery_app.conf.broker_url = previous


FAULT_REPORT = []


@pytest.fixture
def fault_report():
    """Rows of the fault-injection table printed at the end of the run (and quoted in the README)."""
    return FAULT_REPORT


def pytest_terminal_summary(terminalreporter):
    """Print the fault-injection table."""
    if not FAULT_REPORT:
        return
    terminalreporter.write_sep("=", "fault injection: publishes, faults, deliveries, lost")
    for row in FAULT_REPORT:
        terminalreporter.write_line(
            f"{row['case']:<42} publishes={row['publishes']:<4} faults={row['faults']:<4} "
            f"requests={row['requests']:<4} lost={row['lost']}"
        )
