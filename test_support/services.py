"""
Real services for integration tests, the demo and the benchmark: a Redis server and a Celery worker.

Both run as child processes on loopback and stop with their owner; nothing is mocked.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    """A TCP port free on 127.0.0.1 right now (the OS picks it), for a server started next."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port, timeout, process):
    """Return once ``port`` accepts connections; raise if ``process`` exits or ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


def platform_environment(richie_sync, database, **extra):
    """
    The environment of another process of the stand-in CMS (a worker, a management command).

    It has the same RICHIE_SYNC and the same database as the test process.
    """
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "test_support.settings",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            "RICHIE_SYNC_DB": str(database),
            "RICHIE_SYNC_SETTINGS_JSON": json.dumps(richie_sync),
            "RICHIE_SYNC_LOG_LEVEL": "INFO",
            **extra,
        }
    )
    if env.get("RICHIE_SYNC_MYSQL"):  # same server, the test database the test process uses
        env["RICHIE_SYNC_MYSQL"] = ":".join(env["RICHIE_SYNC_MYSQL"].split(":")[:4] + [str(database)])
    return env


class RedisServer:
    """``redis-server`` on a free loopback port, without persistence. Can be stopped and restarted."""

    def __init__(self, port=None):
        self.binary = shutil.which("redis-server")
        if not self.binary:
            raise RuntimeError("redis-server is not installed: run `make services` (installs Debian's redis-server).")
        self.port = port or free_port()
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        """Start redis-server (no persistence) and wait until it listens."""
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with  # runs until stop()
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, 10, self.process)
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


class CeleryWorker:
    """A real Celery worker process of the stand-in CMS, consuming the platform's default CMS queue."""

    def __init__(
        self, broker_url, richie_sync, database, *,
        queues="edx.cms.core.default", concurrency=2, extra_env=None, beat=False,
    ):
        self.broker_url = broker_url
        self.richie_sync = richie_sync
        self.database = database
        self.queues = queues
        self.concurrency = concurrency
        self.extra_env = extra_env or {}
        self.beat = beat
        self.process = None
        self.output = []
        self._reader = None
        # The log file stays open for the worker's whole life: start() writes its output there.
        self._log = tempfile.NamedTemporaryFile(  # pylint: disable=consider-using-with
            "w+", prefix="celery-worker-", suffix=".log", delete=False
        )

    def environment(self):
        """The worker's environment: the stand-in CMS's, with the broker and the extra variables."""
        env = platform_environment(self.richie_sync, self.database, RICHIE_SYNC_BROKER_URL=self.broker_url)
        env.update(self.extra_env)
        return env

    def start(self, timeout=60):
        """Start the worker in its own session, collect its output and wait until it is ready."""
        self.output = []
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with  # runs until stop() or kill()
            [
                sys.executable, "-m", "celery", "-A", "test_support.celery_app", "worker",
                "-Q", self.queues, "-c", str(self.concurrency), "-P", "prefork", "-l", "INFO",
                "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"richie-test-{os.getpid()}@%h",
                *(["--beat", "--schedule", self._log.name + ".beat"] if self.beat else []),
            ],
            cwd=ROOT,
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        ready = threading.Event()

        def read():
            for line in self.process.stdout:
                self.output.append(line)
                self._log.write(line)
                self._log.flush()
                if " ready." in line:
                    ready.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError("Celery worker did not start:\n" + "".join(self.output[-40:]))
        return self

    def ensure_running(self):
        """Restart the worker if it exited, as a process supervisor (Docker, Kubernetes, systemd) does."""
        if self.process is None or self.process.poll() is not None:
            self.start()
            return True
        return False

    @property
    def log_text(self):
        return "".join(self.output)

    def child_pids(self):
        """PIDs of the pool processes (where tasks run)."""
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        except OSError:
            return []
        return [int(pid) for pid in children]

    def kill(self):
        """SIGKILL the whole worker (main process and pool): like an OOM kill or a lost machine."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self):
        """Stop the worker gracefully (SIGTERM to its session), killing it if it takes over 20s."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._reader:
            self._reader.join(5)
