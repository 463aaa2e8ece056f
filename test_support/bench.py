"""
``make bench``: full-resync throughput and memory, against a naive baseline.

Builds N stand-in courses in a SQLite CMS, starts a receiver in its own process that checks
signatures like Richie and answers as fast as it can, then measures in separate processes:

1. ``sync_courses_to_richie`` (batched, concurrent, pooled): courses/s, HTTP requests, peak RSS;
2. the same command again with nothing changed: elapsed time, HTTP requests (should be 0);
3. a naive client: one signed request per course, sequential, a new connection each time
   (what earlier integrations did), over a sample of the courses; and the ratio.

Times are the command's own (start-up excluded, like the baseline's); each measurement is
repeated and the median reported, since the receiver shares this machine's two cores.
"""

import argparse
import hashlib
import hmac
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"


class FastRichieHandler(BaseHTTPRequestHandler):
    """
    Richie's sync endpoint reduced to what costs nothing.

    It checks the signature the way Richie does (HMAC of the raw body), parses the JSON and answers
    success per resource link. The benchmark measures the client, so the server must not be the
    bottleneck.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = -1  # one write per answer (flushed after each request)
    stats = {"requests": 0, "items": 0, "links": set()}

    def do_POST(self):  # pylint: disable=invalid-name  # the name http.server dispatches POST requests to
        """Check the signature, count the courses received and answer success for each of them."""
        body = self.rfile.read(int(self.headers["Content-Length"]))
        expected = "SIG-HMAC-SHA256 " + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(self.headers.get("Authorization", ""), expected):
            return self._answer(401, b'"Invalid authentication."')
        data = json.loads(body)
        items = data if isinstance(data, list) else [data]
        self.stats["requests"] += 1
        self.stats["items"] += len(items)
        self.stats["links"].update(item["resource_link"] for item in items)
        if isinstance(data, list):
            answer = {item["resource_link"]: {"success": True} for item in items}
        else:
            answer = {"success": True}
        return self._answer(200, json.dumps(answer).encode())

    def _answer(self, status, payload):
        """Send ``payload`` as the JSON body of a ``status`` response on the kept-alive connection."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):
        pass


def serve_receiver(port, connection):
    """Child process: a fast receiver on ``port``; answers 'stats' and 'reset' over ``connection``."""
    server = ThreadingHTTPServer(("127.0.0.1", port), FastRichieHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    connection.send(f"http://127.0.0.1:{port}/api/v1.0/course-runs-sync")
    stats = FastRichieHandler.stats
    while True:
        command = connection.recv()
        if command == "stats":
            connection.send({"requests": stats["requests"], "items": stats["items"], "runs": len(stats["links"])})
        elif command == "reset":
            stats["requests"] = stats["items"] = 0
            connection.send("ok")
        else:
            server.shutdown()
            connection.send("bye")
            return


class ReceiverProcess:
    """The receiver in a child process (spawned), so that it does not share the client's GIL."""

    def __init__(self):
        from test_support.services import free_port  # pylint: disable=import-outside-toplevel

        self.parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(
            target=serve_receiver, args=(free_port(), child), daemon=True
        )
        self.process.start()
        self.url = self.parent.recv()

    def ask(self, command):
        self.parent.send(command)
        return self.parent.recv()

    def stop(self):
        self.ask("stop")
        self.process.join(10)


def environment(database, url):
    """The environment of a child process: the test project on ``database``, one instance at ``url``."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "test_support.settings",
            "PYTHONPATH": str(ROOT),
            "RICHIE_SYNC_DB": str(database),
            "RICHIE_SYNC_SETTINGS_JSON": json.dumps({"INSTANCES": [{"NAME": "bench", "URL": url, "SECRET": SECRET}]}),
        }
    )
    return env


def build_courses(count):
    """N CourseOverview rows, bulk-inserted (languages and visibilities vary)."""
    from opaque_keys.edx.locator import CourseLocator  # pylint: disable=import-outside-toplevel
    from openedx.core.djangoapps.content.course_overviews.models import (  # pylint: disable=import-outside-toplevel
        CourseOverview,
    )

    languages = ["en", "fr", "es-419", "pt_BR", "zh_CN", "de", None]
    visibilities = ["both", "about", "none", None]
    start = datetime(2026, 1, 5, 8, tzinfo=timezone.utc)
    batch = []
    for index in range(count):
        batch.append(
            CourseOverview(
                id=CourseLocator(f"Org{index % 20}", f"C{index:06d}", "2026"),
                org=f"Org{index % 20}",
                display_name=f"Course {index}",
                start=start + timedelta(days=index % 300),
                end=start + timedelta(days=index % 300 + 60),
                enrollment_start=start - timedelta(days=30) if index % 3 else None,
                language=languages[index % len(languages)],
                catalog_visibility=visibilities[index % len(visibilities)],
            )
        )
        if len(batch) == 5000:
            CourseOverview.objects.bulk_create(batch)
            batch = []
    CourseOverview.objects.bulk_create(batch)


def run_command(env, *args):
    """
    Run the command in a child process; return (seconds, peak RSS in MB, stdout).

    The seconds are the command's own figure (from its summary), like the baseline's: neither
    counts Python and Django start-up.
    """
    started = time.monotonic()
    with subprocess.Popen(
        [sys.executable, "-m", "django", "sync_courses_to_richie", "--no-progress", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    ) as process:
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    if process.returncode != 0:
        raise SystemExit(f"sync_courses_to_richie failed ({process.returncode}):\n{output[-3000:]}")
    elapsed = float(re.search(r"course run\(s\) in ([0-9.]+)s", output).group(1))
    print(f"  (command process: {wall:.2f}s wall clock including start-up)")
    return elapsed, usage.ru_maxrss / 1024, output


def naive_baseline(database, url, sample):
    """One signed request per course, sequential, new connection each time."""
    code = f"""
import time, requests, django
django.setup()
from openedx_richie_sync.configuration import get_config
from openedx_richie_sync.payload import build_payload
from openedx_richie_sync.platform_api import iter_course_runs
from openedx_richie_sync.signing import serialize, sign
config = get_config(); instance = config.instances[0]
runs = [run for chunk in iter_course_runs(chunk_size=1000) for run in chunk][:{sample}]
started = time.monotonic()
for run in runs:
    body = serialize(build_payload(run, instance, config))
    headers = {{
        "Content-Type": "application/json", "Authorization": sign(body, instance.secret), "Connection": "close"
    }}
    response = requests.post(instance.url, data=body, timeout=10, allow_redirects=False, headers=headers)
    assert response.status_code == 200, response.text
print(len(runs), time.monotonic() - started)
"""
    output = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT, env=environment(database, url), capture_output=True, text=True, check=True,
    ).stdout.split()
    count, elapsed = int(output[0]), float(output[1])
    return count, elapsed


def main(argv=None):
    """Build the courses, then time the full resync, the unchanged rerun and the naive baseline."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--courses", type=int, default=10_000)
    parser.add_argument("--baseline-courses", type=int, default=3_000, help="sample size of the naive baseline")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (the median is reported)")
    args = parser.parse_args(argv)

    workdir = ROOT / "var" / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / f"bench-{args.courses}.sqlite3"
    if database.exists():
        database.unlink()
    receiver = ReceiverProcess()
    env = environment(database, receiver.url)
    os.environ.update(env)
    import django  # pylint: disable=import-outside-toplevel

    django.setup()
    from django.core.management import call_command  # pylint: disable=import-outside-toplevel

    call_command("migrate", verbosity=0)
    started = time.monotonic()
    build_courses(args.courses)
    print(f"Built {args.courses} stand-in courses in {time.monotonic() - started:.1f}s ({database})")

    try:
        options = ["--batch-size", str(args.batch_size), "--concurrency", str(args.concurrency)]
        runs = []
        for attempt in range(args.repeat):
            receiver.ask("reset")
            elapsed, rss, output = run_command(env, *options, *(["--force"] if attempt else []))
            stats = receiver.ask("stats")
            assert stats["runs"] == args.courses and f"sent {args.courses}," in output, (stats, output)
            runs.append((elapsed, rss, stats["requests"]))
            print(f"full resync #{attempt + 1} : {args.courses} courses in {elapsed:.2f}s = "
                  f"{args.courses / elapsed:,.0f} courses/s, {stats['requests']} HTTP requests, peak RSS {rss:.0f} MB")

        receiver.ask("reset")
        rerun_elapsed, rerun_rss, output = run_command(env, *options)
        requests = receiver.ask("stats")["requests"]
        unchanged = re.search(r"unchanged (\d+)", output).group(1)
        print(f"unchanged rerun : {unchanged} courses checked in {rerun_elapsed:.2f}s, {requests} HTTP requests, "
              f"peak RSS {rerun_rss:.0f} MB")

        naive = []
        for _ in range(args.repeat):
            receiver.ask("reset")
            count, naive_elapsed = naive_baseline(database, receiver.url, min(args.baseline_courses, args.courses))
            naive.append(count / naive_elapsed)
            print(f"naive baseline  : {count} courses in {naive_elapsed:.2f}s = {count / naive_elapsed:,.0f} courses/s "
                  f"({count} HTTP requests, one connection each)")

        rate = args.courses / statistics.median(elapsed for elapsed, _, _ in runs)
        naive_rate = statistics.median(naive)
        print(f"\nmedian of {args.repeat}: {rate:,.0f} courses/s vs {naive_rate:,.0f} courses/s naive = "
              f"{rate / naive_rate:.1f}x the naive baseline; peak RSS {max(rss for _, rss, _ in runs):.0f} MB; "
              f"unchanged rerun {rerun_elapsed:.2f}s with {requests} HTTP requests")
    finally:
        receiver.stop()


if __name__ == "__main__":
    main()
