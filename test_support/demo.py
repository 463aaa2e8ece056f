"""
``make demo``: the real sync path, end to end, on embedded defaults.

A SQLite stand-in CMS with sample courses, a Richie-compatible receiver on loopback, a real
Redis broker and a real Celery worker. Courses are published the way Studio does (inside a
transaction, course_published sent with send_robust), and what "Richie" received is printed.
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from test_support.richie_receiver import RichieReceiver
from test_support.services import CeleryWorker, RedisServer

SECRET = "demo-shared-secret"
SAMPLES = [
    # course key, language in Studio, catalog visibility, enrollment start
    ("course-v1:DemoX+Demo101+2026", "fr_CA", "both", True),
    ("course-v1:DemoX+Data202+2026", "es-419", "about", False),
    ("course-v1:OtherU+Chem301+2027", "zh_CN", "none", True),
    ("course-v1:DemoX+Orphan404+2026", "en", "both", True),  # no course page in Richie
]


def main():
    """Start the receiver, Redis and a worker, publish the samples and print what Richie received."""
    workdir = Path(tempfile.mkdtemp(prefix="richie-sync-demo-"))
    receiver = RichieReceiver(secrets=(SECRET,), known_course_codes={"DEMO101", "DATA202", "CHEM301"}).start()
    redis = RedisServer().start()
    richie_sync = {"INSTANCES": [{"NAME": "catalog", "URL": receiver.url, "SECRET": SECRET}], "RETRY_BACKOFF": 0.5}
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "test_support.settings",
            "RICHIE_SYNC_DB": str(workdir / "cms.sqlite3"),
            "RICHIE_SYNC_BROKER_URL": redis.url,
            "RICHIE_SYNC_SETTINGS_JSON": json.dumps(richie_sync),
        }
    )
    import django  # pylint: disable=import-outside-toplevel

    django.setup()
    from django.core.management import call_command  # pylint: disable=import-outside-toplevel

    print(f"== Stand-in CMS in {workdir}; Richie receiver at {receiver.url}; Redis at {redis.url}")
    call_command("migrate", verbosity=0)
    call_command("check")
    worker = CeleryWorker(redis.url, richie_sync, os.environ["RICHIE_SYNC_DB"]).start()
    try:
        publish_samples()
        expected = len(SAMPLES)
        if not receiver.wait_for(lambda r: len(r.requests) >= expected, timeout=60):
            print("!! Richie did not receive every course in 60 s; worker log:\n" + worker.log_text[-4000:])
            return 1
        time.sleep(0.5)  # let the worker write its last log lines
        show(receiver, worker)
        print("\n== ./manage.py cms sync_courses_to_richie --status")
        try:
            call_command("sync_courses_to_richie", "--status")
        except SystemExit:
            pass  # exit status 1: one course failed, as intended
    finally:
        worker.stop()
        redis.stop()
        receiver.stop()
    return 0


def publish_samples():
    """Publish each sample course as Studio does, so the plugin's receivers queue the sync."""
    from datetime import datetime, timezone  # pylint: disable=import-outside-toplevel

    from test_support import studio  # pylint: disable=import-outside-toplevel

    for course_id, language, visibility, has_enrollment_start in SAMPLES:
        key = course_id.split(":", 1)[1].split("+")
        studio.publish(  # like a Studio request: one transaction, course_published sent by the modulestore
            course_id,
            display_name=f"{key[1]} sample",
            start=datetime(2026, 9, 1, 8, tzinfo=timezone.utc),
            end=datetime(2026, 12, 18, 17, tzinfo=timezone.utc),
            enrollment_start=datetime(2026, 6, 1, tzinfo=timezone.utc) if has_enrollment_start else None,
            language=language,
            catalog_visibility=visibility,
        )
        print(f"-- published {course_id} (Studio language {language!r}, visibility {visibility!r})")


def show(receiver, worker):
    """Print the signed requests Richie received, its catalog and the failures the worker logged."""
    print("\n== What Richie received (each request signed with SIG-HMAC-SHA256 over the exact body bytes):")
    for request in receiver.requests:
        print(f"\nPOST {request.path} -> {request.status} {request.response_body.decode()}")
        print(json.dumps(request.json(), indent=2, sort_keys=True))
    print("\n== Richie's catalog now holds:", ", ".join(sorted(receiver.runs)) or "nothing")
    print("\n== What the worker logged about failures (operators see this):")
    for line in worker.log_text.splitlines():
        if "openedx_richie_sync" in line and (" ERROR " in line or " WARNING " in line):
            print("  " + line.split(" openedx_richie_sync.tasks ", 1)[-1])


if __name__ == "__main__":
    sys.exit(main())
