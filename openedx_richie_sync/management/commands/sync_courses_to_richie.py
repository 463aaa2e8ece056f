"""
``./manage.py cms sync_courses_to_richie``: full or partial resync of course runs to Richie.

Same name as the earlier richie-openedx-sync plugin's command, so runbooks keep working.
Exit status: 0 all went well, 1 something failed, 2 usage or configuration error.
"""

import operator
import signal
import sys
import threading
import time
from contextlib import contextmanager
from functools import reduce

from django.core import checks
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q

from ...checks import configuration_messages
from ...configuration import get_config, get_config_and_problems
from ...data import DeliveryOutcome, TaskOutcome
from ...delivery import RichieClient
from ...link_check import check_resource_link
from ...models import CourseRunSyncState, SyncStatus
from ...platform_api import count_course_runs, course_orgs, course_run_key, iter_course_keys, iter_course_runs
from ...resync import Interrupted, Resync
from ...routing import Router
from ...sync import deliver
from ...tasks import sweep, sync_course_runs
from ...toggles import deliveries_paused

MAX_LISTED_FAILURES = 50
DEFAULT_BATCH_SIZE = 100
MAX_BATCH_SIZE = 1000  # a larger list only makes Richie's answer slower and a failure costlier
MAX_CONCURRENCY = 32  # threads and pooled connections of one command run


STOP_SIGNALS = {signal.SIGINT: ("SIGINT", 130), signal.SIGTERM: ("SIGTERM", 143)}


@contextmanager
def stop_requests(received):
    """
    While the command runs, SIGINT and SIGTERM only record themselves in ``received``.

    Raising from the handler could interrupt a database call half-way and leave the connection
    unusable for the cleanup; the run checks ``received`` at safe points instead. Only the main
    thread can handle signals: elsewhere (a command run from a thread) nothing is installed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def record(signum, frame):  # pylint: disable=unused-argument  # the signal handler's signature
        received.append(signum)

    previous = {signum: signal.signal(signum, record) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _usage(message):
    """What stops a run before anything is sent: a usage or selection error (Django prints it, exit status 2)."""
    return CommandError(message, returncode=2)


class Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, stream, total, enabled):
        self.stream, self.total, self.enabled = stream, total, enabled and total > 0
        self.started = time.monotonic()

    def __call__(self, done):
        if not self.enabled:
            return
        width = 30
        filled = int(width * done / self.total)
        rate = done / max(time.monotonic() - self.started, 1e-6)
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} courses, {rate:.0f}/s")
        self.stream.flush()

    def close(self):
        if self.enabled:
            self.stream.write("\n")


class Command(BaseCommand):
    """Resync course runs to Richie, or report on, check or deliver what is pending (one mode per run)."""

    help = "Synchronize course runs to the configured Richie instances (all courses when none is given)."
    # The command reports RICHIE_SYNC's problems itself, serves the healthy instances and exits
    # with status 2 while any configuration error remains.
    requires_system_checks = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # State of one run, reset by ``handle``; ``_interrupted`` reports from it.
        self.resync = None  # the Resync under way, if any
        self.outcomes = {}  # --pending: TaskOutcome -> count
        self.started = time.monotonic()
        self.stop_signals = []  # SIGINT/SIGTERM received, recorded by stop_requests

    def add_arguments(self, parser):
        parser.add_argument("course_keys", nargs="*", metavar="COURSE_KEY", help="Courses to sync (default: all).")
        parser.add_argument("--course_id", "--course-id", action="append", default=[], dest="course_ids", metavar="KEY",
                            help="A course to sync (repeatable; same as a positional COURSE_KEY).")
        parser.add_argument("--org", action="append", default=[], dest="orgs",
                            help="Only courses of this organisation (repeatable).")
        parser.add_argument("--instance", action="append", default=[], dest="instances", metavar="NAME",
                            help="Only this Richie instance (repeatable; default: every enabled instance).")
        parser.add_argument("--force", action="store_true", help="Send even what Richie already has.")
        parser.add_argument("--failed", action="store_true",
                            help="Only the course/instance pairs whose last delivery failed.")
        modes = parser.add_mutually_exclusive_group()
        modes.add_argument("--pending", action="store_true",
                           help="Deliver now what the publish path left pending (broker or worker down). "
                                "With --async: run the periodic sweep once (for cron where Celery beat does not run).")
        modes.add_argument("--check", action="store_true",
                           help="Prove each instance's URL, secret and resource links with harmless signed requests.")
        modes.add_argument("--status", action="store_true",
                           help="Counts of course runs per state and instance; sends nothing.")
        modes.add_argument("--dry-run", action="store_true",
                           help="Print the payloads a resync would send (JSON lines); send nothing.")
        parser.add_argument("--async", action="store_true", dest="use_celery",
                            help="Queue Celery tasks instead of sending from this process.")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                            help=f"Course runs per request, 1 to {MAX_BATCH_SIZE} (default {DEFAULT_BATCH_SIZE}; "
                                 "Richie spends ~90 ms on each changed run).")
        parser.add_argument("--concurrency", type=int, default=4,
                            help=f"Requests in flight per run of the command, 1 to {MAX_CONCURRENCY} (default 4).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar even on a terminal.")

    def handle(self, *args, **options):
        config_errors = self._configuration_errors()
        self.resync, self.outcomes, self.started, self.stop_signals = None, {}, time.monotonic(), []
        try:
            with stop_requests(self.stop_signals):
                status = self._run(config_errors, options)
        except Interrupted:
            status = self._interrupted()
        self._exit(status, config_errors)

    @staticmethod
    def _exit(status, config_errors):
        """
        The command's one way out once a mode ran (usage errors stop earlier: ``_usage``).

        ``status`` is the mode's exit status: 0 all went well, 1 something failed, 130/143
        interrupted; None: a resync that has nothing to report returns normally. Configuration
        errors make it at least 2, even when the healthy instances went well.
        """
        if config_errors:
            status = max(status or 0, 2)
        if status is not None:
            sys.exit(status)

    def _interrupted(self):
        """SIGINT or SIGTERM (cron or Kubernetes timeout): what the run held is released; say what it did."""
        name, status = STOP_SIGNALS[self.stop_signals[0]]
        self.stderr.write(
            f"Interrupted by {name}: nothing more is sent; the course runs this run held are released, so the "
            "next run (or the sweep) takes them at once. Done so far:"
        )
        if self.resync is not None:
            self._summary(self.resync.reports, None, time.monotonic() - self.started)
        if self.outcomes:
            self.stdout.write(f"Pending deliveries: {self._outcome_counts()}.")
        return status

    def _outcome_counts(self):
        """``--pending``'s tally as a sentence fragment, for the summary and the interrupted report."""
        counts = ", ".join(f"{count} {outcome}" for outcome, count in sorted(self.outcomes.items()))
        return counts or "nothing was pending"

    def _configuration_errors(self):
        """Print the Error-level configuration problems; the run goes on with the healthy instances."""
        config, problems = get_config_and_problems()
        errors = [message for message in configuration_messages(config, problems) if message.level >= checks.ERROR]
        for message in errors:
            self.stderr.write(f"Configuration error ({message.id}): {message.msg} {message.hint or ''}".rstrip())
        if errors:
            self.stderr.write(
                "What these errors name is skipped; the other instances are served. Fix RICHIE_SYNC "
                "(`./manage.py cms check` lists every problem); this command exits with status 2 until then."
            )
        return errors

    def _run(self, config_errors, options):
        """
        Run the one mode asked for; return its exit status for ``_exit``.

        The parser lets only one of --status, --check, --pending and --dry-run through; none: a resync.
        """
        config = get_config()
        if options["status"]:
            return self._status(config, options["instances"], config_errors)
        router = Router(config)
        instances = self._instances(config, router, options["instances"])
        if not (1 <= options["batch_size"] <= MAX_BATCH_SIZE and 1 <= options["concurrency"] <= MAX_CONCURRENCY):
            raise _usage(
                "--batch-size and --concurrency must be at least 1, and at most "
                f"{MAX_BATCH_SIZE} (--batch-size) and {MAX_CONCURRENCY} (--concurrency)."
            )
        if options["check"]:
            return self._check(instances)
        if deliveries_paused() and not options["dry_run"]:
            raise _usage(
                "Deliveries to Richie are paused (waffle switch richie_sync.pause_deliveries). Turn the switch off "
                "in the Django admin (Waffle > Switches); what changed meanwhile is pending and is delivered then."
            )
        course_keys = self._course_keys(options["course_keys"] + options["course_ids"])
        if options["pending"]:
            return self._pending(instances, options["use_celery"], course_keys, options["orgs"])
        return self._resync(config, router, instances, course_keys, options)

    def _resync(self, config, router, instances, course_keys, options):
        """Send (or with --async queue, or with --dry-run print) the selection; 1 when a course run failed."""
        started = time.monotonic()
        self._require_matches(course_keys, options["orgs"])
        if options["failed"]:
            course_keys = self._failed_keys(instances, course_keys)
            if not course_keys:
                self.stdout.write("No failed course run to resync.")
                return None
        if options["use_celery"] and not options["dry_run"]:
            self._enqueue(config, instances, course_keys, options)
            return None
        total = count_course_runs(course_keys, options["orgs"])
        shown = self.stderr.isatty() and not options["no_progress"] and not options["dry_run"]
        progress = Progress(self.stderr, total, shown)
        resync = self.resync = Resync(
            config, [instance.name for instance in instances] if options["instances"] else None,
            force=options["force"], only_failed=options["failed"], dry_run=options["dry_run"],
            batch_size=options["batch_size"], concurrency=options["concurrency"], on_progress=progress,
            emit=self.stdout.write, router=router, should_stop=lambda: bool(self.stop_signals),
        )
        chunk_size = max(options["batch_size"] * options["concurrency"], 500)
        reports = resync.run(iter_course_runs(course_keys, options["orgs"], chunk_size=chunk_size))
        progress.close()
        if options["dry_run"]:
            return None
        return 1 if self._summary(reports, total, time.monotonic() - started) else None

    def _instances(self, config, router, names):
        """The selected instances: global ones, plus those that organisations declare in site configuration."""
        enabled = {instance.name: instance for instance in config.instances if instance.enabled}
        for org in course_orgs():
            for instance in router.for_org(org).instances:
                enabled.setdefault(instance.name, instance)
        if not names:
            if not enabled:
                raise _usage(
                    "No enabled Richie instance: none in RICHIE_SYNC['INSTANCES'] nor in any organisation's "
                    "site configuration."
                )
            return list(enabled.values())
        known = enabled
        unknown = [name for name in names if name not in known]
        if unknown:
            raise _usage(
                f"Unknown or disabled Richie instance(s): {', '.join(unknown)}. Enabled: {', '.join(known) or 'none'}."
            )
        return [known[name] for name in dict.fromkeys(names)]

    @staticmethod
    def _course_keys(values):
        """Parse the given course run keys; a malformed one is a usage error (exit 2)."""
        keys = []
        for value in values:
            key = course_run_key(value)
            if key is None:
                raise _usage(f"{value!r} is not a course run key (expected course-v1:ORG+CODE+RUN).")
            keys.append(key)
        return keys

    @staticmethod
    def _require_matches(course_keys, orgs):
        """A course key or organisation that matches no course is a mistake worth stopping for (exit 2)."""
        if course_keys:
            found = set(map(str, iter_course_keys(course_keys)))
            missing = [str(key) for key in course_keys if str(key) not in found]
            if missing:
                raise _usage(
                    f"No course run {', '.join(missing)} on this platform (no CourseOverview): check the key, and "
                    "that the course was published in Studio."
                )
        for org in orgs:
            if not count_course_runs(course_keys, [org]):
                raise _usage(
                    f"No course run of organisation {org!r}" + (" among the given courses" if course_keys else "")
                    + ": check the organisation code."
                )

    @staticmethod
    def _failed_keys(instances, course_keys):
        """Keys of the course runs whose last delivery to one of ``instances`` failed (among ``course_keys`` if any)."""
        failed = CourseRunSyncState.objects.filter(
            instance__in=[instance.name for instance in instances], status=SyncStatus.FAILED
        )
        if course_keys:
            failed = failed.filter(course_id__in=course_keys)
        return sorted(set(failed.values_list("course_id", flat=True)), key=str)

    def _status(self, config, names, config_errors):
        """Counts per instance and state; exit 1 when anything failed (2 with configuration errors)."""
        rows = CourseRunSyncState.objects.all()
        if names:
            known = {instance.name for instance in config.instances}
            in_state = set(rows.filter(instance__in=names).values_list("instance", flat=True))
            unknown = sorted(set(names) - known - in_state)
            if unknown:
                raise _usage(
                    f"Unknown Richie instance(s): {', '.join(unknown)}: neither configured nor in the sync state. "
                    f"Configured: {', '.join(sorted(known)) or 'none'}."
                )
            rows = rows.filter(instance__in=names)
        counts = {}
        for instance, status, count in rows.values_list("instance", "status").annotate(n=Count("id")).order_by():
            counts.setdefault(instance, {})[status] = count
        if config_errors:
            self.stdout.write(f"CONFIGURATION ERRORS: {len(config_errors)} (listed above); what they name is skipped.")
        if not counts:
            self.stdout.write("No course run has been synchronized yet.")
            return 0
        statuses = [choice.value for choice in SyncStatus]
        self.stdout.write(f"{'instance':<24}" + "".join(f"{status:>10}" for status in statuses))
        for instance in sorted(counts):
            cells = "".join(f"{counts[instance].get(status, 0):>10}" for status in statuses)
            self.stdout.write(f"{instance:<24}" + cells)
        if deliveries_paused():
            self.stdout.write("Deliveries are PAUSED (waffle switch richie_sync.pause_deliveries).")
        return 1 if any(instance.get(SyncStatus.FAILED) for instance in counts.values()) else 0

    def _pending(self, instances, use_celery, course_keys, orgs):
        """Deliver (or queue) every due pending delivery of the selection; exit status 1 if one failed."""
        if use_celery:
            if course_keys or orgs:
                raise _usage("--pending --async runs the whole sweep: it takes no course key nor --org.")
            config = get_config()
            counts = sweep(config.pending_grace, config.retry_failed_after)
            self.stdout.write(
                f"Queued {counts['queued']} overdue deliveries; retrying {counts['retried']} failed ones; "
                f"refreshing {counts['refreshed']} whose prices expired."
            )
            return 0
        names = [instance.name for instance in instances]
        rows = CourseRunSyncState.objects.due().filter(instance__in=names)
        if course_keys:
            rows = rows.filter(course_id__in=[str(key) for key in course_keys])
        if orgs:
            rows = rows.filter(reduce(operator.or_, (Q(org__iexact=org) for org in orgs)))  # as --org selects courses
        rows = rows.values_list("course_id", "instance", "generation")
        outcomes = self.outcomes
        for course_id, name, generation in list(rows):
            if self.stop_signals:
                raise Interrupted()
            outcome = deliver(course_id, name, generation).result
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if outcome in (TaskOutcome.FAILED, TaskOutcome.RETRYING):
                error = CourseRunSyncState.objects.get(course_id=course_id, instance=name).last_error
                self.stdout.write(f"  FAILED {course_id} → {name}: {error}")
        self.stdout.write(f"Pending deliveries: {self._outcome_counts()}.")
        return 1 if {TaskOutcome.FAILED, TaskOutcome.RETRYING} & set(outcomes) else 0

    def _check(self, instances):
        """Exit status 0 when every instance accepts a signed empty list."""
        status = 0
        for instance in instances:
            delivery = RichieClient(instance).check()
            if delivery.outcome == DeliveryOutcome.SUCCESS:
                self.stdout.write(f"{instance.name}: OK ({instance.safe_url} accepted a signed request)")
                link = check_resource_link(instance)  # the URL and secret work: does COURSE_REGEX read our links?
                self.stdout.write(f"{instance.name} (resource link): {link.line}")
                status = status if link.ok else 1
                continue
            status = 1
            verdict = {401: "wrong secret", 403: "no signature received", 404: "missing endpoint"}.get(delivery.status)
            if verdict is None:
                verdict = "redirect" if delivery.status and 300 <= delivery.status < 400 else (
                    "unreachable" if delivery.status is None else f"unexpected answer {delivery.status}")
            self.stdout.write(f"{instance.name}: {verdict.upper()} — {instance.safe_url}: {delivery.describe()}")
        return status

    def _enqueue(self, config, instances, course_keys, options):
        """--async: queue one Celery task per chunk of the selection and instance, instead of sending here."""
        task_options = {"queue": config.celery_queue} if config.celery_queue else {}
        names = {instance.name for instance in instances} if options["instances"] else None
        router = Router(config)
        queued = 0
        for runs in iter_course_runs(course_keys, options["orgs"], chunk_size=options["batch_size"]):
            by_instance = {}
            for run in runs:
                for name in router.for_org(run.org).names():
                    if names is None or name in names:
                        by_instance.setdefault(name, []).append(run.course_id)
            for name, ids in by_instance.items():
                if ids:
                    sync_course_runs.apply_async(
                        kwargs={
                            "course_ids": ids,
                            "instance_name": name,
                            "force": options["force"],
                            "only_failed": options["failed"],
                        },
                        **task_options,
                    )
                    queued += 1
        self.stdout.write(
            f"Queued {queued} Celery task(s); follow them in the worker logs or with --failed afterwards."
        )

    def _summary(self, reports, total, elapsed):
        """Per instance: sent, unchanged, failed, held elsewhere; ``total`` None for a run cut short."""
        any_failed = False
        if total is not None:
            rate = total / elapsed if elapsed > 0 else 0
            self.stdout.write(f"{total} course run(s) in {elapsed:.2f}s ({rate:.0f}/s)")
        for report in reports.values():
            busy = f", held by a delivery under way or another run {report.busy}" if report.busy else ""
            self.stdout.write(
                f"  {report.name}: sent {report.sent}, unchanged {report.unchanged}, failed {report.failed}{busy} "
                f"({report.requests} HTTP requests)"
            )
            if report.aborted:
                self.stdout.write(f"    stopped: {report.aborted}")
            for course_id, detail in report.failures[:MAX_LISTED_FAILURES]:
                self.stdout.write(f"    FAILED {course_id}: {detail}")
            if len(report.failures) > MAX_LISTED_FAILURES:
                more = len(report.failures) - MAX_LISTED_FAILURES
                self.stdout.write(f"    ... and {more} more (see the admin, or rerun with --failed)")
            any_failed = any_failed or report.failed > 0
        return any_failed
