"""The sender thread: the receivers' messages leave Studio's request at once and reach the broker."""

import logging
import multiprocessing

import pytest

from openedx_richie_sync import dispatch
from openedx_richie_sync.tasks import sync_course_run
from test_support import celery_app

from .helpers import delivery

KWARGS = delivery("course-v1:DemoX+Demo101+2026", "catalog", 1)


def test_a_message_is_published_by_the_sender_thread(published_tasks):
    failures = []
    dispatch.send_later(sync_course_run, KWARGS, None, {}, on_failure=failures.append)
    assert [task["kwargs"] for task in published_tasks] == [KWARGS] and not failures
    assert dispatch._sender.thread.name == "richie-sync-sender"  # pylint: disable=protected-access


def test_an_unreachable_broker_costs_the_caller_nothing_and_is_reported_by_the_thread():
    failures = []
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        for _ in range(3):
            dispatch.send_later(sync_course_run, KWARGS, None, {}, on_failure=failures.append)
        assert dispatch.flush(10)
    finally:
        celery_app.conf.broker_url = previous
        dispatch.reset()
        dispatch._sender.down_until = 0.0  # pylint: disable=protected-access
    assert len(failures) == 3
    assert "Error" in failures[0]  # the connection error itself
    # One refused connection per pause, not one per message:
    assert all("unreachable less than 5 s ago" in failure for failure in failures[1:])


def test_a_full_queue_drops_the_message_at_once_and_says_so(monkeypatch):
    full = dispatch._Sender()  # pylint: disable=protected-access
    full.messages.maxsize = 1
    full.messages.put_nowait("occupied")
    full.thread = "not started: the queue stays full"
    failures = []
    with monkeypatch.context() as patched:
        patched.setattr(dispatch, "_sender", full)
        dispatch.send_later(sync_course_run, KWARGS, None, {}, on_failure=failures.append)
    assert failures == [f"{dispatch.QUEUE_LIMIT} messages were already waiting for the broker"]


def _child_state(connection):
    """In the forked child: is the sender thread unstarted, and how many messages wait."""
    sender = dispatch._sender  # pylint: disable=protected-access
    connection.send((sender.thread is None, sender.messages.qsize()))


@pytest.mark.django_db
@pytest.mark.usefixtures("published_tasks")
def test_a_forked_process_starts_with_its_own_empty_queue_and_no_thread():
    dispatch.send_later(sync_course_run, KWARGS, None, {}, on_failure=logging.error)
    assert dispatch._sender.thread is not None  # pylint: disable=protected-access
    parent, child = multiprocessing.get_context("fork").Pipe()
    process = multiprocessing.get_context("fork").Process(target=_child_state, args=(child,))
    process.start()
    assert parent.poll(20) and parent.recv() == (True, 0)
    process.join(10)
