"""
``make bench-publish``: what a Studio publish costs Studio's request, and how soon Richie has it.

Starts its own services on loopback: Redis, a real Celery worker of the stand-in CMS (concurrency
2) on a database this run creates (SQLite, or a throwaway MariaDB with ``--db mysql``), and the
Richie-compatible receiver (signature checks included) in a child process, so that its threads do
not share the measuring process's interpreter lock. Then it measures:

1. the plugin's share of a publish request: its ``course_published`` receiver plus the on-commit
   callbacks it registered (the enqueue), inside ``transaction.atomic()`` like ATOMIC_REQUESTS;
   Studio's commit and the platform's own receivers are excluded. 1 and 5 instances, Redis up/down;
2. commit -> accepted by Richie: one publish at a time (each of another course), with the
   plugin's default COALESCE_SECONDS, up to the receiver's ``received_at`` of the new value;
3. bursts of 10 publishes of one course, 50 ms apart: deliveries per burst, latest value delivered;
4. figures 1 and 2 again with 100 site configurations (routing reads them on every publish);
5. the ``enrollment_changed`` receiver and its on-commit work, after a delivery and while pending.

Timings are printed, never asserted.
"""

import argparse
import getpass
import json
import logging
import math
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil

from test_support.services import CeleryWorker, RedisServer, free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-publish-secret"
WAIT = 15.0  # seconds: the longest wait for one delivery before it counts as a timeout
PLUGIN_MODULE = "openedx_richie_sync.signals"


# -- the receiver, in its own process ----------------------------------------------------------


def serve_receiver(connection):
    """
    Child process: the real ``RichieReceiver``; answers what it received over ``connection``.

    ``("since", index, course_id)`` returns ``(count, [(received_at, status, start), ...])``: the
    requests from ``index`` on carrying that course, with the ``start`` each one sent.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops it, even on Ctrl-C
    from test_support.richie_receiver import RichieReceiver  # pylint: disable=import-outside-toplevel

    receiver = RichieReceiver(secrets=(SECRET,)).start()
    connection.send(receiver.url)
    while True:
        command = connection.recv()
        if command[0] == "since":
            _, index, course_id = command
            suffix = f"/courses/{course_id}/info"
            with receiver.lock:
                records = receiver.requests[index:]
                count = len(receiver.requests)
            found = []
            for record in records:
                try:
                    data = record.json()
                except ValueError:
                    continue
                for item in data if isinstance(data, list) else [data]:
                    if isinstance(item, dict) and str(item.get("resource_link", "")).endswith(suffix):
                        found.append((record.received_at, record.status, item.get("start")))
            connection.send((count, found))
        elif command[0] == "count":
            with receiver.lock:
                connection.send((len(receiver.requests), sum(1 for r in receiver.requests if r.status != 200)))
        else:
            receiver.stop()
            connection.send("bye")
            return


STUDIO_CPUS = {0}
SERVICE_CPUS = {1}


def pin_studio():
    """
    Pin this process, which plays Studio, on CPU 0; every service on CPU 1 (``pin_services``).

    In production Studio, the workers, Redis, the database and Richie run on different machines;
    on this 2-core machine a worker delivering the publishes being timed would take the CPU from
    the timed receiver and measure the contention, not the receiver.
    """
    if len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, STUDIO_CPUS)


def pin_services(*pids):
    """Move these processes and all their children to CPU 1 (nothing to do on a single CPU)."""
    if os.cpu_count() < 2:
        return
    for pid in pids:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            try:
                process.cpu_affinity(sorted(SERVICE_CPUS))
            except psutil.Error:
                pass


class ReceiverProcess:
    """The Richie receiver in a child process (spawned), asked for what it received over a pipe."""

    def __init__(self):
        self.parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(
            target=serve_receiver, args=(child,), daemon=True
        )
        self.process.start()
        self.url = self.parent.recv()

    def ask(self, *command):
        self.parent.send(command)
        return self.parent.recv()

    def count(self):
        return self.ask("count")[0]

    def wait_for_start(self, course_id, since, start, timeout=WAIT):
        """
        The first request from ``since`` on carrying ``course_id`` with ``start``.

        Returns ``(received_at or None on timeout, requests for the course before it)``.
        """
        deadline = time.monotonic() + timeout
        while True:
            _, found = self.ask("since", since, course_id)
            for position, (received_at, status, value) in enumerate(found):
                if value == start and status == 200:
                    return received_at, position
            if time.monotonic() > deadline:
                return None, len(found)
            time.sleep(0.01)

    def stop(self):
        """Stop the receiver process (it may already have exited)."""
        try:
            self.ask("stop")
        except (OSError, EOFError):
            pass
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()


# -- a throwaway MariaDB, as scripts/test-mysql.sh starts it -----------------------------------


class MariaDB:
    """``mariadbd`` on a free loopback port with its data in a temporary directory, removed on stop."""

    def __init__(self):
        if not shutil.which("mariadbd"):
            raise SystemExit("mariadb-server is missing: install Debian's mariadb-server package "
                             "(`make test-mysql` installs it when run as root).")
        self.dir = Path(tempfile.mkdtemp(prefix="bench-mariadb-"))
        self.port = free_port()
        self.process = None
        self.version = None

    def _client(self, sql):
        return subprocess.run(
            ["mariadb", "--no-defaults", "-uroot", f"--socket={self.dir}/sock", "-N", "-e", sql],
            capture_output=True, text=True, check=False,
        )

    def start(self):
        """Start the server; return the RICHIE_SYNC_MYSQL value (host:port:user:password:database)."""
        with open(self.dir / "install.log", "w", encoding="utf-8") as log:
            subprocess.run(
                ["mariadb-install-db", "--no-defaults", f"--datadir={self.dir}/data",
                 "--auth-root-authentication-method=normal"],
                stdout=log, stderr=subprocess.STDOUT, check=True,
            )
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with  # runs until stop()
            ["mariadbd", "--no-defaults", f"--datadir={self.dir}/data", f"--socket={self.dir}/sock",
             f"--port={self.port}", "--bind-address=127.0.0.1", f"--user={getpass.getuser()}"],
            stdout=subprocess.DEVNULL,
            # The server's log stays open for the server's whole life.
            stderr=open(self.dir / "server.log", "w", encoding="utf-8"),  # pylint: disable=consider-using-with
            start_new_session=True,
        )
        for _ in range(120):
            if self._client("SELECT 1").returncode == 0:
                break
            if self.process.poll() is not None:
                raise RuntimeError("mariadbd exited:\n" + (self.dir / "server.log").read_text()[-2000:])
            time.sleep(0.5)
        created = self._client(
            "CREATE DATABASE richie CHARACTER SET utf8mb4; CREATE USER 'richie'@'127.0.0.1' IDENTIFIED BY 'richie'; "
            "GRANT ALL ON *.* TO 'richie'@'127.0.0.1';"
        )
        if created.returncode != 0:
            raise RuntimeError(f"MariaDB set-up failed: {created.stderr}")
        self.version = self._client("SELECT VERSION()").stdout.strip()
        return f"127.0.0.1:{self.port}:richie:richie:richie"

    def stop(self):
        """Stop the server and remove its data directory."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


# -- timing the plugin's receivers as the platform runs them -----------------------------------


def percentile(values, p):
    """Nearest-rank percentile (no interpolation: a figure that was actually measured)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))]


def call_timed(function, *args, **kwargs):
    """
    Call ``function`` and time it; wrap the on-commit callbacks it registered so they time themselves.

    Returns ``(seconds, hooks)``: ``hooks`` fills with the callbacks' seconds when the outermost
    atomic block commits (out of one, on-commit work runs at once and is inside ``seconds``).
    """
    from django.db import transaction  # pylint: disable=import-outside-toplevel

    connection = transaction.get_connection()
    before = len(connection.run_on_commit)
    started = time.perf_counter()
    function(*args, **kwargs)
    elapsed = time.perf_counter() - started
    hooks = []

    def timed(callback):
        def run():
            begun = time.perf_counter()
            try:
                return callback()
            finally:
                hooks.append(time.perf_counter() - begun)
        return run

    for index in range(before, len(connection.run_on_commit)):
        sids, callback, *rest = connection.run_on_commit[index]
        connection.run_on_commit[index] = (sids, timed(callback), *rest)
    return elapsed, hooks


def plugin_receiver(signal_, module=PLUGIN_MODULE):
    """``(index, function)`` of the receiver ``module`` connected to ``signal_`` (the plugin framework did)."""
    for index, entry in enumerate(signal_.receivers):
        function = entry[1]() if isinstance(entry[1], weakref.ReferenceType) else entry[1]
        if getattr(function, "__module__", None) == module:
            return index, function
    raise SystemExit(f"{module} is not connected to {signal_!r}: the plugin did not load.")


@contextmanager
def timing_receiver(signal_, samples):
    """Swap the plugin's receiver of ``signal_`` for a wrapper timing it and its on-commit work into ``samples``."""
    index, real = plugin_receiver(signal_)
    entry = signal_.receivers[index]

    def wrapper(*args, **kwargs):
        samples.append(call_timed(real, *args, **kwargs))

    signal_.receivers[index] = (entry[0], wrapper, *entry[2:])
    signal_.sender_receivers_cache.clear()
    try:
        yield
    finally:
        signal_.receivers[index] = entry
        signal_.sender_receivers_cache.clear()


def new_request():
    """Each Studio request starts with an empty request cache."""
    from edx_django_utils.cache import RequestCache  # pylint: disable=import-outside-toplevel

    RequestCache.clear_all_namespaces()


def sender_cpu_seconds():
    """CPU seconds used so far by the plugin's sender thread (``dispatch``), 0 before it started."""
    from openedx_richie_sync import dispatch  # pylint: disable=import-outside-toplevel

    thread = dispatch._sender.thread  # pylint: disable=protected-access
    if thread is None:
        return 0.0
    for found in psutil.Process().threads():
        if found.id == thread.native_id:
            return found.user_time + found.system_time
    return 0.0


def publish_cost(keys, count, warmup):
    """
    The plugin's cost per publish in Studio's transaction.

    Measured: ms of the plugin's receiver plus its on-commit callbacks, ms of those callbacks, and
    the sender thread's CPU ms per publish (mean; off the request, in the process).

    Between publishes the sender thread is left to finish (untimed), as between Studio requests.
    """
    from django.db import transaction  # pylint: disable=import-outside-toplevel
    from xmodule.modulestore.django import COURSE_PUBLISHED  # pylint: disable=import-outside-toplevel
    from xmodule.modulestore.mixed import MixedModuleStore  # pylint: disable=import-outside-toplevel

    from openedx_richie_sync import dispatch  # pylint: disable=import-outside-toplevel

    _, receiver = plugin_receiver(COURSE_PUBLISHED)
    samples, hooks_only, cpu_before = [], [], 0.0
    for index in range(warmup + count):
        if index == warmup:
            cpu_before = sender_cpu_seconds()
        new_request()
        with transaction.atomic():
            elapsed, hooks = call_timed(
                receiver, sender=MixedModuleStore, signal=COURSE_PUBLISHED, course_key=keys[index % len(keys)]
            )
        if index >= warmup:
            samples.append((elapsed + sum(hooks)) * 1000)
            hooks_only.append(sum(hooks) * 1000)
        dispatch.flush(WAIT)
    return samples, hooks_only, (sender_cpu_seconds() - cpu_before) * 1000 / max(count, 1)


# -- the stand-in CMS ------------------------------------------------------------------------


START = datetime(2026, 9, 1, 8, tzinfo=timezone.utc)


def make_course(course_id):
    """The course in the modulestore and its CourseOverview row (the minimal logic of tests/conftest.py)."""
    from opaque_keys.edx.keys import CourseKey  # pylint: disable=import-outside-toplevel
    from openedx.core.djangoapps.content.course_overviews.models import (  # pylint: disable=import-outside-toplevel
        CourseOverview,
    )
    from xmodule.modulestore.django import modulestore  # pylint: disable=import-outside-toplevel

    key = CourseKey.from_string(course_id)
    values = {
        "org": key.org,
        "display_name": f"Course {key.course}",
        "start": START,
        "end": START + timedelta(days=110),
        "enrollment_start": START - timedelta(days=90),
        "enrollment_end": START + timedelta(days=14),
        "language": "en",
        "catalog_visibility": "both",
    }
    modulestore().save_course(key, **{name: value for name, value in values.items() if name != "org"})
    CourseOverview.objects.update_or_create(id=key, defaults=values)
    return key


def iso(value):
    """A datetime as the plugin's payload writes it."""
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat() + "Z"


def add_site_configurations(count, bench_orgs):
    """``count`` enabled site configurations, one org each (the bench's among them), a third with RICHIE_SYNC."""
    from django.contrib.sites.models import Site  # pylint: disable=import-outside-toplevel
    from openedx.core.djangoapps.site_configuration.models import (  # pylint: disable=import-outside-toplevel
        SiteConfiguration,
    )

    orgs = list(bench_orgs) + [f"SiteOrg{index}" for index in range(count - len(bench_orgs))]
    for index, org in enumerate(orgs[:count]):
        site = Site.objects.create(domain=f"site{index}.bench.example.com", name=f"Site {index}")
        values = {"course_org_filter": org, "PLATFORM_NAME": f"Site {index}"}
        if index % 3 == 0:
            values["RICHIE_SYNC"] = {"INSTANCES": ["bench"], "SEND_PRICES": False}
        SiteConfiguration.objects.create(site=site, enabled=True, site_values=values)


def instances_setting(url, count):
    """RICHIE_SYNC with ``count`` instances at the receiver (same secret); COALESCE_SECONDS left at its default."""
    names = ["bench"] if count == 1 else [f"bench{index}" for index in range(1, count + 1)]
    return {"INSTANCES": [{"NAME": name, "URL": url, "SECRET": SECRET} for name in names]}


class Bench:
    """The services of one run and the measurements; every process it starts is stopped by ``close``."""

    def __init__(self, args):
        self.args = args
        self.redis = None
        self.worker = None
        self.receiver = None
        self.mariadb = None
        self.database = None
        self.results = {}

    # services

    def start(self):
        """Start the receiver and Redis (pinned to the services' CPU), the database and a worker."""
        self.receiver = ReceiverProcess()
        self.redis = RedisServer().start()
        pin_services(self.receiver.process.pid, self.redis.process.pid)
        env = {"DJANGO_SETTINGS_MODULE": "test_support.settings", "RICHIE_SYNC_BROKER_URL": self.redis.url,
               "RICHIE_SYNC_SETTINGS_JSON": json.dumps(instances_setting(self.receiver.url, 1))}
        if self.args.db == "mysql":
            self.mariadb = MariaDB()
            env["RICHIE_SYNC_MYSQL"] = self.mariadb.start()
            pin_services(self.mariadb.process.pid)
            self.database = "richie"
            print(f"MariaDB {self.mariadb.version} on 127.0.0.1:{self.mariadb.port}")
        else:
            workdir = ROOT / "var" / "bench"
            workdir.mkdir(parents=True, exist_ok=True)
            self.database = workdir / "bench-publish.sqlite3"
            for path in workdir.glob("bench-publish.sqlite3*"):
                path.unlink()
            env["RICHIE_SYNC_DB"] = str(self.database)
            os.environ.pop("RICHIE_SYNC_MYSQL", None)
        os.environ.update(env)
        import django  # pylint: disable=import-outside-toplevel

        django.setup()
        from django.core.management import call_command  # pylint: disable=import-outside-toplevel

        call_command("migrate", verbosity=0)
        # The plugin's log lines (an error per publish while Redis is down) go to a file: still written, not shown.
        log_path = ROOT / "var" / "bench" / "bench-publish.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        for handler in logging.getLogger("openedx_richie_sync").handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(open(log_path, "w", encoding="utf-8"))  # pylint: disable=consider-using-with
        print(f"plugin log: {log_path}")
        print(f"database {self.args.db} ({self.database}); Richie receiver {self.receiver.url}; Redis {self.redis.url}")

    def configure(self, instances):
        """The same RICHIE_SYNC in this process and in a (re)started worker."""
        from django.conf import settings  # pylint: disable=import-outside-toplevel

        from openedx_richie_sync.configuration import clear_config_cache  # pylint: disable=import-outside-toplevel

        setting = instances_setting(self.receiver.url, instances)
        settings.RICHIE_SYNC = setting
        clear_config_cache()  # assigned outside override_settings: no setting_changed signal
        self.stop_worker()
        if self.redis.process is not None:
            self.worker = CeleryWorker(self.redis.url, setting, self.database, concurrency=2).start()
            pin_services(self.worker.process.pid)

    def drain(self, quiet=4.0, bound=120.0):
        """
        Wait until the worker has logged nothing for ``quiet`` seconds (more than the coalescing countdown).

        The cost runs queue hundreds of tasks in seconds; a latency measured behind that backlog
        would time the backlog, not a publish.
        """
        started = time.monotonic()
        seen, since = -1, started
        while time.monotonic() - started < bound:
            if len(self.worker.output) != seen:
                seen, since = len(self.worker.output), time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
            time.sleep(0.1)
        print(f"  (worker queue drained in {time.monotonic() - started - quiet:.1f}s)")

    def stop_worker(self):
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    def close(self):
        """Stop whatever was started, each even if another fails to stop."""
        for stop in (self.stop_worker, getattr(self.redis, "stop", None), getattr(self.receiver, "stop", None),
                     getattr(self.mariadb, "stop", None)):
            if stop is None:
                continue
            try:
                stop()
            except Exception as error:  # pylint: disable=broad-except
                print(f"cleanup: {error}", file=sys.stderr)

    # measurements

    def cost(self, label, keys):
        started = time.monotonic()
        samples, hooks, sender = publish_cost(keys, self.args.cost_n, warmup=50)
        self.results[label], self.results[label + ":hooks"], self.results[label + ":sender"] = samples, hooks, sender
        print(f"  {label}: p50 {percentile(samples, 50):.2f} ms, p99 {percentile(samples, 99):.2f} ms, "
              f"of which on-commit p50 {percentile(hooks, 50):.2f} ms; sender thread {sender:.2f} ms CPU "
              f"({len(samples)} publishes, {time.monotonic() - started:.1f}s)")

    def latency(self, label, keys, new_start):
        """Publish each course once (a new ``start``), wait for Richie to accept it; commit -> received_at."""
        from test_support import studio  # pylint: disable=import-outside-toplevel

        started = time.monotonic()
        samples, timeouts, stale = [], 0, 0
        for index, key in enumerate(keys):
            since = self.receiver.count()
            value = new_start + timedelta(hours=index)
            new_request()
            studio.publish(key, start=value)
            committed = time.time()
            received_at, earlier = self.receiver.wait_for_start(str(key), since, iso(value))
            stale += earlier
            if received_at is None:
                timeouts += 1
            else:
                samples.append((received_at - committed) * 1000)
        elapsed = time.monotonic() - started
        self.results[label] = {
            "samples": samples, "timeouts": timeouts, "stale": stale, "n": len(keys), "elapsed": elapsed,
        }
        print(f"  {label}: p50 {percentile(samples, 50):.0f} ms, p99 {percentile(samples, 99):.0f} ms, "
              f"{timeouts} timeout(s) of {WAIT:.0f}s, {stale} request(s) with an older value "
              f"({len(keys)} publishes, {elapsed:.0f}s)")

    def bursts(self, keys, size=10, spacing=0.05):
        """``size`` publishes of one course ``spacing`` apart, per course; then count what Richie received."""
        from openedx_richie_sync.configuration import get_config  # pylint: disable=import-outside-toplevel
        from test_support import studio  # pylint: disable=import-outside-toplevel

        started = time.monotonic()
        since = self.receiver.count()
        latest = {}
        for key in keys:
            for step in range(size):
                begun = time.monotonic()
                value = START + timedelta(days=step + 1, minutes=len(latest))
                new_request()
                studio.publish(key, start=value)
                time.sleep(max(0.0, spacing - (time.monotonic() - begun)))
            latest[str(key)] = iso(value)
            self.receiver.wait_for_start(str(key), since, latest[str(key)])
        time.sleep(min(get_config().coalesce_seconds + 2, WAIT))  # late (stale) deliveries would arrive by now
        deliveries, fresh = [], 0
        for course_id, value in latest.items():
            _, found = self.receiver.ask("since", since, course_id)
            deliveries.append(len(found))
            fresh += bool(found) and found[-1][2] == value
        self.results["bursts"] = {"deliveries": deliveries, "fresh": fresh, "n": len(keys)}
        print(f"  bursts: deliveries {deliveries}, latest delivered in {fresh}/{len(keys)} "
              f"({time.monotonic() - started:.0f}s)")

    def enrollments(self, keys, warmup_keys):
        """The plugin's enrollment receiver + on-commit work: first enrollment after a delivery, then while pending."""
        from common.djangoapps.student.models import CourseEnrollment  # pylint: disable=import-outside-toplevel
        from django.contrib.auth import get_user_model  # pylint: disable=import-outside-toplevel
        from django.db import transaction  # pylint: disable=import-outside-toplevel
        from openedx_events.learning.signals import COURSE_ENROLLMENT_CHANGED  # pylint: disable=import-outside-toplevel

        from openedx_richie_sync import dispatch  # pylint: disable=import-outside-toplevel
        from openedx_richie_sync.models import CourseRunSyncState, SyncStatus  # pylint: disable=import-outside-toplevel

        users = [get_user_model().objects.create(username=f"learner{index}", email=f"learner{index}@example.com")
                 for index in range(4)]
        with timing_receiver(COURSE_ENROLLMENT_CHANGED, []):  # warm-up, not recorded
            for key in warmup_keys:
                with transaction.atomic():
                    CourseEnrollment.enroll(users[3], key)
        synced = set(CourseRunSyncState.objects.filter(status=SyncStatus.SYNCED, course_id__in=[str(k) for k in keys])
                     .values_list("course_id", flat=True))
        figures = {}
        for label, learners in (("first", users[:1]), ("pending", users[1:3])):
            samples = []
            courses = [key for key in keys if str(key) in synced] if label == "first" else keys
            with timing_receiver(COURSE_ENROLLMENT_CHANGED, samples):
                for user in learners:
                    for key in courses:
                        new_request()
                        with transaction.atomic():
                            CourseEnrollment.enroll(user, key)
                        dispatch.flush(WAIT)  # between requests, untimed
            figures[label] = [(elapsed + sum(hooks)) * 1000 for elapsed, hooks in samples]
        pending = CourseRunSyncState.objects.filter(
            status=SyncStatus.PENDING, course_id__in=[str(k) for k in keys]
        ).count()
        self.results["enrollment"] = figures
        print(f"  enrollment: {len(figures['first'])} first (of {len(keys)} courses, {len(synced)} synced before), "
              f"{len(figures['pending'])} while pending; {pending} rows pending after")


def report(results, args, coalesce, elapsed):
    """Print the table of figures measured (what was not measured says so)."""
    def row(label, key):
        samples = results.get(key)
        if not samples:
            return f"  {label:<40} (not measured)"
        hooks = results[key + ":hooks"]
        figures = [percentile(samples, 50), percentile(samples, 90), percentile(samples, 99)]
        figures += [percentile(hooks, 50), percentile(hooks, 99), results[key + ":sender"]]
        return f"  {label:<40}" + "".join(f"{value:>7.2f}" for value in figures[:3]) + "   " + \
            "".join(f"{value:>7.2f}" for value in figures[3:5]) + f"{figures[5]:>15.2f}"

    def latency(key):
        figure = results.get(key)
        if not figure:
            return "(not measured)"
        text = f"p50 {percentile(figure['samples'], 50):.0f} p99 {percentile(figure['samples'], 99):.0f}"
        extra = [f"{figure['timeouts']} timeouts"] if figure["timeouts"] else []
        extra += [f"{figure['stale']} stale"] if figure["stale"] else []
        return text + (f" ({', '.join(extra)})" if extra else "")

    lines = [
        "",
        f"== bench-publish, database {args.db}, {'quick' if args.quick else 'full'} run, {elapsed / 60:.1f} min",
        f"publish cost in Studio's request (ms), N={args.cost_n} each      p50    p90    p99   "
        "on-commit p50    p99   sender CPU/publish",
        row("1 instance,  Redis up", "cost-1-up"),
        row("5 instances, Redis up", "cost-5-up"),
        row("1 instance,  Redis down", "cost-1-down"),
        row("5 instances, Redis down", "cost-5-down"),
    ]
    single = results.get("latency")
    lines.append(f"commit -> accepted by Richie (ms), N={single['n'] if single else 0}   {latency('latency')}   "
                 f"(COALESCE_SECONDS={coalesce:g}, default; {single['elapsed'] if single else 0:.0f}s)")
    burst = results.get("bursts")
    if burst:
        deliveries = burst["deliveries"]
        mean = sum(deliveries) / len(deliveries)
        lines.append(f"bursts of 10 (N={burst['n']}): deliveries mean {mean:.2f} max {max(deliveries)}, "
                     f"latest data delivered in {burst['fresh']}/{burst['n']}")
    sites, before = results.get("cost-sites"), results.get("cost-1-before-sites")
    if sites:
        lines.append(f"100 site configurations: cost p50/p99 "
                     f"{percentile(sites, 50):.2f}/{percentile(sites, 99):.2f} ms "
                     f"(just before adding them: {percentile(before, 50):.2f}/{percentile(before, 99):.2f}), "
                     f"latency N={results['latency-sites']['n']} {latency('latency-sites')} ms")
    enrollment = results.get("enrollment")
    if enrollment:
        first, pending = enrollment["first"], enrollment["pending"]
        lines.append(f"enrollment receiver (ms): first p50/p99 {percentile(first, 50):.2f}/{percentile(first, 99):.2f} "
                     f"(N={len(first)}), while pending p50/p99 "
                     f"{percentile(pending, 50):.2f}/{percentile(pending, 99):.2f} "
                     f"(N={len(pending)})")
    print("\n".join(lines))


def measure(bench, args):
    """Run the measurements in order on the started ``bench``; return the coalescing delay in force."""
    from openedx_richie_sync.configuration import get_config  # pylint: disable=import-outside-toplevel

    cost_keys = [make_course(f"course-v1:Org{index % 10}+Cost{index:03d}+2026") for index in range(50)]
    latency_keys = [make_course(f"course-v1:LatOrg{index % 10}+Lat{index:04d}+2026")
                    for index in range(args.latency_n)]
    burst_keys = [make_course(f"course-v1:Org{index % 10}+Burst{index:02d}+2026") for index in range(args.bursts)]
    sites_keys = [make_course(f"course-v1:LatOrg{index % 10}+Site{index:04d}+2026")
                  for index in range(args.sites_latency_n)]

    print("1 instance, Redis up (worker running):")
    bench.configure(1)
    coalesce = get_config().coalesce_seconds
    bench.drain()  # a worker still booting competes with the measurement for the CPU
    bench.cost("cost-1-up", cost_keys)
    bench.drain()
    bench.latency("latency", latency_keys, START + timedelta(days=365))
    bench.bursts(burst_keys)
    bench.enrollments(latency_keys, burst_keys)

    print("Redis stopped:")
    bench.stop_worker()
    bench.redis.stop()
    bench.cost("cost-1-down", cost_keys)
    bench.configure(5)
    bench.cost("cost-5-down", cost_keys)
    bench.redis.start()
    print("5 instances, Redis up (worker running):")
    bench.configure(5)
    bench.drain()
    bench.cost("cost-5-up", cost_keys)

    print("100 site configurations, 1 instance (measured just before adding them, then with them):")
    bench.configure(1)
    bench.cost("cost-1-before-sites", cost_keys)
    add_site_configurations(100, [f"Org{index}" for index in range(5)] + [f"LatOrg{index}" for index in range(10)])
    bench.cost("cost-sites", cost_keys)
    bench.drain()
    bench.latency("latency-sites", sites_keys, START + timedelta(days=730))
    requests, refused = bench.receiver.ask("count")
    print(f"Richie receiver: {requests} requests, {refused} not answered 200")
    return coalesce


def main(argv=None):
    """Parse the options, run every measurement with its services, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "mysql"), default="sqlite")
    parser.add_argument("--quick", action="store_true", help="development run: --latency-n 50 --cost-n 200")
    parser.add_argument("--cost-n", type=int, default=500,
                        help="measured publishes per cost configuration (after 50 warm-up)")
    parser.add_argument("--latency-n", type=int, default=200, help="single publishes timed from commit to Richie")
    parser.add_argument("--bursts", type=int, default=20, help="bursts of 10 publishes of one course")
    parser.add_argument("--sites-latency-n", type=int, default=50, help="the same with 100 site configurations")
    args = parser.parse_args(argv)
    if args.quick:
        args.cost_n, args.latency_n, args.sites_latency_n = 200, 50, 20

    def terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it happens, also through a pipe
    started = time.monotonic()
    bench = Bench(args)
    pin_studio()
    try:
        bench.start()
        coalesce = measure(bench, args)
        report(bench.results, args, coalesce, time.monotonic() - started)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the worker, Redis and the receiver", file=sys.stderr)
        if bench.results:
            report(bench.results, args, 3.0, time.monotonic() - started)
        return 130
    finally:
        bench.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
