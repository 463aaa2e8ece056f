"""
Integration fixtures: a real Redis broker, a real Celery worker process and real HTTP receivers.

The worker shares the test database (a SQLite file) and is configured, like a platform worker,
from the same RICHIE_SYNC the test process uses.
"""

import pytest
from django.conf import settings as django_settings

from test_support import celery_app
from test_support.richie_receiver import RichieReceiver
from test_support.services import CeleryWorker, RedisServer

from ..conftest import SECRET, instance_settings

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
            instance_settings("catalog", richie.url),
            instance_settings("partner", partner.url, secret=PARTNER_SECRET),
        ],
        "MAX_RETRIES": 4,
        "RETRY_BACKOFF": 0.2,
        "RETRY_BACKOFF_MAX": 1.0,
    }


@pytest.fixture(scope="session")
def worker(django_db_setup, django_db_blocker, redis_server, integration_settings):  # pylint: disable=unused-argument
    process = CeleryWorker(redis_server.url, integration_settings, django_settings.DATABASES["default"]["NAME"])
    process.start()
    yield process
    process.stop()


@pytest.fixture
def live(worker, redis_server, richie, partner, integration_settings, settings, transactional_db):  # pylint: disable=unused-argument
    """Test process and worker configured alike; receivers start each test empty and without faults."""
    settings.RICHIE_SYNC = integration_settings
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = redis_server.url
    richie.reset()
    partner.reset()
    if redis_server.process is None:
        redis_server.start()
    yield worker
    celery_app.conf.broker_url = previous
