"""
Batched, concurrent, change-aware synchronization of many course runs.

Used by ``sync_courses_to_richie`` (in its own process or through Celery with ``--async``) and,
for one course, by the publish task: one path to build, compare, send and record payloads.

Course runs arrive in chunks (memory stays flat); for each instance the payloads whose hash
matches what Richie last accepted are skipped; the rest go out as JSON lists of ``batch_size``
items on up to ``concurrency`` pooled connections. Richie answers a list per resource link, so
each item's result is mapped back to its course (a run counts as delivered only if Richie said
exactly ``{"success": true}`` for it; runs left out of the answer are sent again); a batch that
fails as a whole with a 500, or that is refused as too large (413), is split until the item that
causes it is isolated.
"""

import logging
import time
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import replace

from .data import DeliveryOutcome, InstanceReport, ItemResult, Prepared, SyncStatus
from .delivery import RichieClient, backoff_delay, run_outcome
from .models import CourseRunSyncState
from .payload import PayloadError, build_payload, next_refresh
from .platform_api import course_modes, course_run_key
from .routing import Router
from .signing import payload_hash, serialize

log = logging.getLogger(__name__)

BATCH_RETRIES = 3  # retries of a batch that failed transiently, within one run of the command
BATCH_BACKOFF_MAX = 30.0  # cap of the delay between those retries, Retry-After included
# Richie spends about 90 ms per created or updated run (docs/richie.md): give a list time to be processed.
SECONDS_PER_ITEM = 0.5
SPLIT_STATUSES = (413, 500)  # a list refused as a whole: halves may pass (too large, or one item breaks Richie)
RECORD_EVERY = 500  # results written to the sync-state table per transaction
# A resync holds its rows from lease to record and renews that lease every LEASE_RENEW_SECONDS
# while it runs: a command killed outright (SIGKILL, OOM killer) frees them within
# RESYNC_LEASE_SECONDS, for the next run or the sweep.
RESYNC_LEASE_SECONDS = 300
LEASE_RENEW_SECONDS = 60


class Interrupted(Exception):
    """The run was asked to stop (``should_stop``); what it held is released, ``reports`` hold what it did."""


def prepare(run, instance, config, state=None, force=False):
    """
    The payload of ``run`` for ``instance``, or None when Richie already has it (unless ``force``).

    Raises ``PayloadError`` when the course cannot be expressed as a valid payload.
    """
    payload = build_payload(run, instance, config)
    try:
        body = serialize(payload)
    except (TypeError, ValueError, RecursionError) as error:  # only a PAYLOAD_HOOK can put such values there
        raise PayloadError(
            f"Course {run.course_id}: the payload is not valid JSON ({type(error).__name__}: {str(error)[:200]}). "
            f"PAYLOAD_HOOK {config.payload_hook} must return JSON values only (no NaN, sets, dates or objects)."
        ) from error
    digest = payload_hash(body)
    if state is not None and not force and state.is_current(digest):
        return None
    attempts = state.attempts if state is not None and state.status != SyncStatus.SYNCED else 0
    return Prepared(
        course_id=run.course_id, org=run.org, payload=payload, body=body, payload_hash=digest, attempts=attempts,
        generation=state.generation if state is not None else 0,
        refresh_at=next_refresh(run.modes) if instance.send_prices else None,
    )


def batch_results(items, delivery):
    """
    Map Richie's answer to a list back to each item, or None when the batch failed as a whole.

    An answer keyed by resource link is judged run by run (``delivery.run_outcome``): Richie
    applies the valid items of a list even when it answers 400 for the others.
    """
    if delivery.outcome == DeliveryOutcome.SUCCESS:
        return [ItemResult.of(item, delivery) for item in items]
    if delivery.status in (200, 400) and any(item.link in delivery.items for item in items):
        return [ItemResult.of(item, run_outcome(delivery, item.link)) for item in items]
    return None


def batch_timeout(instance, size):
    """Budget of one attempt to send ``size`` runs: TIMEOUT, or more for long lists (Richie's ~90 ms per run)."""
    return max(instance.timeout, SECONDS_PER_ITEM * size)


def _send_again(result):
    return not result.ok and result.retryable


class BatchSender:
    """Sends lists of prepared items to one instance, retrying and splitting as needed."""

    def __init__(self, instance, config, client=None, concurrency=1, sleep=time.sleep):
        self.instance = instance
        self.config = config
        self.client = client or RichieClient(instance, pool_size=max(concurrency, 1))
        self.sleep = sleep
        self.aborted = ""  # set once the instance refused us as a whole: nothing more is sent

    def send(self, items):
        """Return ``(results, requests, fatal)``; ``fatal`` is a Delivery when the instance itself is wrong."""
        if self.aborted:
            return [ItemResult.of(item, detail=self.aborted, retryable=False) for item in items], 0, None
        done, requests = [], 0
        for retry in range(BATCH_RETRIES + 1):
            body = b"[" + b",".join(item.body for item in items) + b"]"
            delivery = self.client.post_body(
                body, timeout=batch_timeout(self.instance, len(items)), sent=tuple(item.link for item in items)
            )
            requests += 1
            results = batch_results(items, delivery)
            if results is None and delivery.status in SPLIT_STATUSES and len(items) > 1:
                if delivery.status == 413:
                    log.warning(
                        "Richie instance %r refused a list of %d course runs as too large (413): sending it in halves. "
                        "Lower --batch-size, or raise the body size limit of the server in front of Richie.",
                        self.instance.name, len(items),
                    )
                split, split_requests, fatal = self._split(items)
                return done + split, requests + split_requests, fatal
            if results is None and delivery.outcome == DeliveryOutcome.PERMANENT:
                fatal = delivery if delivery.status not in (400, 413) else None
                if fatal is not None:  # batches queued behind this one are refused without a request
                    self.aborted = fatal.describe()
                return done + [ItemResult.of(item, delivery) for item in items], requests, fatal
            if results is None:
                results = [ItemResult.of(item, delivery) for item in items]
            done.extend(result for result in results if not _send_again(result))
            again = [item for item, result in zip(items, results) if _send_again(result)]
            if not again:
                return done, requests, None
            if retry < BATCH_RETRIES:  # only the runs that did not get through, after a capped delay
                items = again
                cap = min(self.config.retry_backoff_max, BATCH_BACKOFF_MAX)
                self.sleep(backoff_delay(retry, self.config.retry_backoff, cap, delivery.retry_after))
        return done + [result for result in results if _send_again(result)], requests, None

    def _split(self, items):
        """One item can make Richie fail the whole list, or the list is too large: send each half on its own."""
        middle = len(items) // 2
        results, requests, fatal = [], 0, None
        for half in (items[:middle], items[middle:]):
            half_results, half_requests, half_fatal = self.send(half)
            results.extend(half_results)
            requests += half_requests
            fatal = fatal or half_fatal
        return results, requests, fatal


class Resync:
    """
    Synchronize chunks of course runs to some instances; see the module docstring.

    ``on_progress(n)`` is called with the number of course runs handled so far; ``emit(line)``
    receives dry-run output. Database reads and writes stay in the calling thread; only HTTP
    runs in the pool.
    """

    def __init__(
        self, config, names=None, *, force=False, only_failed=False, dry_run=False,
        batch_size=100, concurrency=4, on_progress=None, emit=print, sleep=time.sleep, router=None, should_stop=None,
    ):
        self.config = config
        self.names = None if names is None else set(names)
        self.router = router or Router(config)
        self.sleep = sleep
        self.force = force
        self.only_failed = only_failed
        self.dry_run = dry_run
        self.batch_size = max(int(batch_size), 1)
        self.concurrency = max(int(concurrency), 1)
        self.on_progress = on_progress or (lambda done: None)
        self.emit = emit
        self.should_stop = should_stop or (lambda: False)  # e.g. SIGTERM received: stop at the next safe point
        self.senders, self.reports, self.unrecorded = {}, {}, {}
        self.leased = {}  # (instance, token) → course ids held and not recorded yet
        self.renewed_at = time.monotonic()
        for instance in config.instances:  # the summary lists every selected instance, even idle ones
            if instance.enabled and (self.names is None or instance.name in self.names):
                self._open(instance)

    def _open(self, instance):
        """Sender and report of an instance, created when its first course shows up."""
        if instance.name not in self.senders:
            self.senders[instance.name] = BatchSender(
                instance, self.config, concurrency=self.concurrency, sleep=self.sleep
            )
            self.reports[instance.name] = InstanceReport(name=instance.name)
            self.unrecorded[instance.name] = []
        return instance

    def _route(self, runs):
        """
        ``[(instance, [(run, its instance), ...])]``: each run under every instance that serves its organisation.

        Each run keeps the instance as its own organisation sees it (site configuration may turn
        ``SEND_PRICES`` on or off per organisation); runs are grouped by instance name only.
        """
        groups = {}
        for run in runs:
            route = self.router.for_org(run.org)
            instances = [i for i in route.instances if self.names is None or i.name in self.names]
            needs_modes = run.modes is None and any(instance.send_prices for instance in instances)
            if instances and (route.lms_root_url != run.lms_root_url or needs_modes):
                modes = course_modes(course_run_key(run.course_id)) if needs_modes else run.modes
                run = replace(run, lms_root_url=route.lms_root_url, modes=modes)  # once, for every instance
            for instance in instances:
                groups.setdefault(instance.name, (self._open(instance), []))[1].append((run, instance))
        return list(groups.values())

    def run(self, chunks):
        """
        Send ``chunks`` of course runs; return ``{instance name: InstanceReport}``.

        Interrupted (SIGINT, SIGTERM, any exception), it sends nothing more: queued batches are
        dropped, those on the wire end within their attempt bound and are recorded, and every row
        still held is released, so the next run or the sweep takes it at once. ``self.reports``
        then holds the counts so far.
        """
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="richie-sync")
        in_flight = {}
        try:
            try:
                self._send_all(chunks, pool, in_flight)
            finally:
                for future in in_flight:  # only those not started yet can be cancelled
                    future.cancel()
                pool.shutdown(wait=True)
                done = {future: name for future, name in in_flight.items() if not future.cancelled()}
                self._collect(done, ALL_COMPLETED, interruptible=False)
        finally:
            for name in self.unrecorded:
                self._flush(name)
            for (name, token), course_ids in self.leased.items():  # held but not recorded: interrupted
                if course_ids:
                    CourseRunSyncState.objects.release(token, name, course_ids)
        return self.reports

    def _send_all(self, chunks, pool, in_flight):
        """Submit every batch of every chunk to the pool, keeping at most 4 x concurrency in flight (``in_flight``)."""
        done = 0
        for runs in chunks:
            for instance, instance_runs in self._route(runs):
                for items in self._batches(instance, instance_runs):
                    sender = self.senders[instance.name]
                    if sender.aborted:
                        self._record(instance.name, sender.send(items)[0])
                        continue
                    in_flight[pool.submit(sender.send, items)] = instance.name
                    while len(in_flight) >= 4 * self.concurrency:
                        self._collect(in_flight, FIRST_COMPLETED)
                        self._stop_if_asked()
                    self._stop_if_asked()
            done += len(runs)
            self.on_progress(done)
            self._renew_leases()
        while in_flight:
            self._collect(in_flight, FIRST_COMPLETED)
            self._stop_if_asked()

    def _stop_if_asked(self):
        if self.should_stop():
            raise Interrupted()

    def _renew_leases(self):
        """Extend the lease of every row still held, at most once per LEASE_RENEW_SECONDS (one statement)."""
        if time.monotonic() - self.renewed_at < LEASE_RENEW_SECONDS:
            return
        tokens = [token for (_, token), course_ids in self.leased.items() if course_ids]
        if tokens:
            CourseRunSyncState.objects.renew(tokens, RESYNC_LEASE_SECONDS)
        self.renewed_at = time.monotonic()

    def _batches(self, instance, runs):
        """
        Prepared, leased items of ``runs`` that must go to ``instance``, cut into batches.

        The sync state is read after the course data: a course whose row is leased is being
        delivered (publish path or another resync) with data at least as fresh, so it is left to
        it; so is a row whose generation moves before we lease it. A pending row nobody holds is
        sent here: its queued task, if any, then finds it synced and stands down.
        """
        report = self.reports[instance.name]
        states = CourseRunSyncState.objects.states_by_course(instance.name, [run.course_id for run, _ in runs])
        candidates = []  # Prepared items to send, ItemResults of payloads that cannot be built
        for run, run_instance in runs:
            state = states.get(run.course_id)
            if self.only_failed and (state is None or state.status != SyncStatus.FAILED):
                continue
            if state is not None and state.busy and not self.dry_run:
                report.busy += 1
                continue
            try:
                item = prepare(run, run_instance, self.config, state, force=self.force)
            except PayloadError as error:
                generation = state.generation if state is not None else 0
                candidates.append(
                    ItemResult(course_id=run.course_id, org=run.org, ok=False, detail=str(error), generation=generation)
                )
                continue
            if item is None:
                report.unchanged += 1
            elif self.dry_run:
                self.emit(serialize({"instance": instance.name, "payload": item.payload}).decode("utf-8"))
            else:
                candidates.append(item)
        if not candidates:
            return []
        leased = self._lease(instance.name, candidates, states)
        self._record(instance.name, [result for result in leased if isinstance(result, ItemResult)])
        items = [item for item in leased if isinstance(item, Prepared)]
        return [items[start:start + self.batch_size] for start in range(0, len(items), self.batch_size)]

    def _lease(self, name, candidates, states):
        """Lease the rows of ``candidates`` (creating missing ones); return those we hold, with the token."""
        missing = [(c.course_id, c.org) for c in candidates if c.course_id not in states]
        token, leased = CourseRunSyncState.objects.lease_rows(
            name, {c.course_id: c.generation for c in candidates}, RESYNC_LEASE_SECONDS, create=missing
        )
        self.leased.setdefault((name, token), set()).update(leased)
        self.reports[name].busy += len(candidates) - len(leased)
        return [replace(candidate, token=token) for candidate in candidates if candidate.course_id in leased]

    def _collect(self, in_flight, how, interruptible=True):
        """
        Record the batches that have finished (waiting as ``how`` says), renewing leases meanwhile.

        The wait wakes up every second (or every LEASE_RENEW_SECONDS, if shorter, so that a renewal is
        never late) to see whether the run must stop: ``_send_all`` then
        stops at a safe point (never inside a database call, which would break the connection).
        """
        finished = ()
        while in_flight and not finished and not (interruptible and self.should_stop()):
            finished, _ = wait(list(in_flight), timeout=min(1.0, LEASE_RENEW_SECONDS), return_when=how)
            self._renew_leases()
        for future in finished:
            name = in_flight.pop(future)
            results, requests, fatal = future.result()
            report = self.reports[name]
            report.requests += requests
            if fatal is not None and not report.aborted:
                report.aborted = fatal.describe()
                log.error("Richie instance %r refused the resync, stopping there: %s", name, report.aborted)
            self._record(name, results)

    def _record(self, name, results):
        """Count, log (one line per course run) and buffer results for the sync-state table."""
        self.reports[name].add(results)
        for result in results:
            log.log(
                logging.INFO if result.ok else logging.ERROR,
                "Richie sync course=%s instance=%s outcome=%s status=%s attempt=%d via=resync%s",
                result.course_id, name, "success" if result.ok else "failed", result.status, max(result.attempts, 1),
                "" if result.ok else f" answer={result.detail!r}",
            )
        self.unrecorded[name].extend(results)
        if len(self.unrecorded[name]) >= RECORD_EVERY:
            self._flush(name)

    def _flush(self, name):
        """Record results (each under the lease it was sent with), releasing those rows."""
        if self.unrecorded[name]:
            CourseRunSyncState.objects.finish(name, self.unrecorded[name])
            for result in self.unrecorded[name]:
                self.leased.get((name, result.token), set()).discard(result.course_id)
            self.unrecorded[name] = []
