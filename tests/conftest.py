"""Fixtures shared by the test suite: a Richie-compatible receiver, configuration, sample courses."""

# pylint: disable=redefined-outer-name  # pytest passes fixtures by name

import pytest
from celery.signals import before_task_publish

from test_support.richie_receiver import RichieReceiver

from .helpers import SECRET, instance_settings, make_course


class SentMessages(list):
    """
    The messages published so far.

    The receivers publish from the process's sender thread (``dispatch``): every read first waits,
    boundedly, for that thread to be idle.
    """

    def _settled(self):
        from openedx_richie_sync import dispatch  # pylint: disable=import-outside-toplevel

        assert dispatch.flush(10), "the sender thread still has messages after 10 s"
        return self

    def __iter__(self):
        return list.__iter__(self._settled())

    def __len__(self):
        return list.__len__(self._settled())

    def __getitem__(self, index):
        return list.__getitem__(self._settled(), index)

    def __eq__(self, other):
        return list.__eq__(self._settled(), other)

    __hash__ = None

    def __repr__(self):
        return list.__repr__(self._settled())


@pytest.fixture
def receiver():
    with RichieReceiver(secrets=(SECRET,)) as server:
        yield server


@pytest.fixture
def second_receiver():
    with RichieReceiver(secrets=("other-secret",)) as server:
        yield server


@pytest.fixture
def richie_sync(settings, receiver):
    """Point RICHIE_SYNC at the receiver; returns the dict so tests can add instances or knobs."""
    settings.RICHIE_SYNC = {
        "INSTANCES": [instance_settings("catalog", receiver.url)],
        "RETRY_BACKOFF": 0.01,
        "RETRY_BACKOFF_MAX": 0.05,
        "MAX_RETRIES": 3,
    }
    return settings.RICHIE_SYNC


@pytest.fixture(autouse=True)
def fresh_request_cache_and_modulestore():
    """Each test starts like a new request on a new platform: empty request cache and modulestore."""
    from edx_django_utils.cache import RequestCache  # pylint: disable=import-outside-toplevel
    from xmodule.modulestore.django import clear_existing_modulestores  # pylint: disable=import-outside-toplevel

    from openedx_richie_sync import dispatch  # pylint: disable=import-outside-toplevel
    from openedx_richie_sync.routing import clear_route_cache  # pylint: disable=import-outside-toplevel

    RequestCache.clear_all_namespaces()
    clear_existing_modulestores()
    clear_route_cache()  # site configurations of earlier tests were rolled back without a signal
    dispatch.reset()
    yield
    assert dispatch.flush(10), "the sender thread still has messages 10 s after the test"
    RequestCache.clear_all_namespaces()
    clear_existing_modulestores()


@pytest.fixture
def course(db):  # pylint: disable=unused-argument
    return make_course()


@pytest.fixture
def published_tasks():
    """Every task message handed to the broker (Celery's own publish signal), once the sender thread is idle."""
    sent = SentMessages()

    def record(sender=None, body=None, headers=None, **kwargs):
        sent.append({"task": sender, "args": list(body[0]), "kwargs": body[1], "headers": headers})

    before_task_publish.connect(record, weak=False)
    yield sent
    before_task_publish.disconnect(record)
