"""
Hand task messages to the Celery broker without making the caller wait for it.

A publish in Studio must not pay for the broker: talking to it costs about a millisecond per
message when it is up, and a connect timeout when it is not. ``send_later`` only appends to an
in-process queue; one daemon thread per process publishes from it on a kept-alive, fail-fast
connection. ``send_now`` does the same on the caller's thread for callers that report the
outcome (the admin, the sweep).

Nothing here is needed for durability: every message stands for a sync-state row that is
already pending in the database. A message that cannot be sent (broker down, queue full,
process killed before the thread sent it) leaves its row pending, and the sweep queues it
after ``PENDING_GRACE``. So the bounds below only decide how soon, never whether.
"""

import atexit
import logging
import os
import queue
import threading
import time

log = logging.getLogger(__name__)

# Ask the broker once, briefly; never kombu's default reconnection loop (seconds per call when it is down).
BROKER_FAILFAST = {"connect_timeout": 2, "transport_options": {"max_retries": 0}}
# After a failure, nothing is sent for this long: an outage costs one refused connection per
# process and window, not one per message.
BROKER_PAUSE_SECONDS = 5.0
# Messages waiting for the sender thread; beyond this (a broker that stalls under a mass import)
# new ones are dropped at once and their rows wait for the sweep.
QUEUE_LIMIT = 10000
# How long an exiting process (a management command that published) waits for its messages.
EXIT_FLUSH_SECONDS = 5.0


class _Sender:
    """The per-process state: a queue, the thread draining it, and the thread-local connections."""

    def __init__(self):
        self.pid = os.getpid()
        self.messages = queue.Queue(maxsize=QUEUE_LIMIT)
        self.thread = None
        self.start_lock = threading.Lock()
        self.kept = threading.local()  # kombu connections are not thread-safe: one (url, connection) per thread
        self.down_until = 0.0


_sender = _Sender()


def _after_fork():
    """A forked worker or web process starts with an empty queue and no thread (the parent's is not running)."""
    global _sender  # pylint: disable=global-statement
    _sender = _Sender()


os.register_at_fork(after_in_child=_after_fork)


def send_later(task, kwargs, eta, options, on_failure):
    """
    Queue ``task(**kwargs)`` for the sender thread; return at once.

    ``eta`` (an aware datetime or None) is absolute, so the time spent in the queue does not
    delay the delivery. ``on_failure(reason)`` runs on the sender thread if the message is not
    sent: it should say so; the row stays pending either way.
    """
    if task.app.conf.task_always_eager:  # development settings: run it here, as Celery would
        error = send_now(task, kwargs, eta, options)
        if error:
            on_failure(error)
        return
    if _sender.pid != os.getpid():  # forked by a server that skips Python's fork hooks
        _after_fork()
    sender = _sender
    _ensure_thread(sender)
    try:
        sender.messages.put_nowait((task, kwargs, eta, options, on_failure))
    except queue.Full:
        on_failure(f"{QUEUE_LIMIT} messages were already waiting for the broker")


def send_now(task, kwargs, eta, options):
    """Publish ``task(**kwargs)`` on this thread's kept-alive connection; None, or why it could not be sent."""
    sender = _sender
    if time.monotonic() < sender.down_until:
        return f"the broker was unreachable less than {BROKER_PAUSE_SECONDS:g} s ago"
    url = task.app.conf.broker_url
    for attempt in (1, 2):  # a connection found dead (the broker restarted) is replaced once
        kept = getattr(sender.kept, "pair", None)
        if kept is None or kept[0] != url:
            sender.kept.pair = kept = (url, task.app.connection_for_write(**BROKER_FAILFAST))
        try:
            task.apply_async(kwargs=kwargs, connection=kept[1], eta=eta, retry=False, **options)
            return None
        except Exception as error:  # pylint: disable=broad-except
            sender.kept.pair = None
            _release_quietly(kept[1])
            if attempt == 2:
                sender.down_until = time.monotonic() + BROKER_PAUSE_SECONDS
                return f"{type(error).__name__}: {error}"
    return None


def flush(timeout):
    """Wait until the sender thread has handled every queued message, at most ``timeout`` seconds; True if it did."""
    sender = _sender
    deadline = time.monotonic() + timeout
    while sender.messages.unfinished_tasks:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.002)
    return True


def reset():
    """Forget this thread's connection and any pause (tests; a process that changed its broker)."""
    sender = _sender
    kept = getattr(sender.kept, "pair", None)
    sender.kept.pair = None
    sender.down_until = 0.0
    if kept is not None:
        _release_quietly(kept[1])


def _ensure_thread(sender):
    """Start the sender thread of this process on first use (never at import: servers fork after it)."""
    if sender.thread is not None:
        return
    with sender.start_lock:
        if sender.thread is None:
            sender.thread = threading.Thread(target=_run, args=(sender,), name="richie-sync-sender", daemon=True)
            sender.thread.start()


def _run(sender):
    """The sender thread: publish each queued message; a failure is reported and the next one tried."""
    while True:
        task, kwargs, eta, options, on_failure = sender.messages.get()
        try:
            error = send_now(task, kwargs, eta, options)
            if error:
                on_failure(error)
        except Exception:  # pylint: disable=broad-except
            log.exception("The Richie sync sender thread could not handle a message; its row stays pending.")
        finally:
            sender.messages.task_done()


def _release_quietly(connection):
    try:
        connection.release()
    except Exception:  # pylint: disable=broad-except
        log.debug("Releasing a broken broker connection failed.", exc_info=True)


@atexit.register
def _flush_at_exit():
    """A command that published (an import, a script) exits once its messages are sent, or after the bound."""
    if _sender.thread is not None and not flush(EXIT_FLUSH_SECONDS):
        log.warning(
            "Exiting with Richie sync messages still unsent after %g s: their deliveries are recorded as "
            "pending and the sweep will queue them.", EXIT_FLUSH_SECONDS,
        )
