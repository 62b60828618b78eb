"""Claim due steps, run them, record the outcome.

A step is claimed with a lease; if the worker dies mid-step the lease runs out and another pass
runs the step again, which is harmless because every handler is idempotent. A failure that may
pass (network, 5xx, 429, timeouts, credentials being fixed) is retried with exponential
backoff and jitter; after ``max_attempts`` attempts, or at once for a failure no retry can mend,
the step goes to the dead-letter list, where ``status``, the admin page and ``retry`` see it.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import itertools
import logging
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

from .. import errors
from ..backoff import exponential_backoff_with_jitter
from ..clients.protocols import ActiveCampaignApi, WordPressApi
from ..clients.wordpress import ERASE_BATCH_MAX
from ..metrics import Metrics
from ..policy import Policy
from ..settings import SiteSettings
from ..store.api import PRIORITY_ACTIONS, FinishedStep, Request, Step, Store
from . import residues
from .steps import HANDLERS, Outcome, StepContext

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class SiteClients(Protocol):
    """What the worker needs per site: its settings and one client per system."""

    site: SiteSettings
    wordpress: WordPressApi
    activecampaign: ActiveCampaignApi


# what the pool hands back for one step: the step and its outcome (or the error it raised)
_StepFuture = Future[tuple[Step, "Outcome | BaseException"]]

# A failed step waits 2 s, 4 s, 8 s ... up to 15 min (with jitter) before its next attempt.
STEP_RETRY_BASE_S = 2.0
STEP_RETRY_CAP_S = 900.0

# The residue scan is the erasure's proof, not part of it: its passes wait until the worker has
# nothing else to do (a pass keeps the database busy for seconds on a large site, and during a
# backlog it would take that time from the erasures), unless the oldest proof has waited this
# long; such passes are then paced to a share of the time (docs/ERASURE.md, "Proof of erasure").
SCAN_MAX_WAIT_S = 900.0
SCAN_SHARE = 0.05


def _is_urgent(request: Request | None) -> bool:
    return request is not None and request.action in PRIORITY_ACTIONS


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, errors.StepFailed):
        return exc.retryable
    if isinstance(exc, (errors.AuthenticationFailed, errors.PermissionDenied)):
        return True  # an operator may fix credentials; dead-letter after max attempts
    if isinstance(exc, errors.RemoteError):
        return exc.retryable
    if isinstance(exc, errors.StoreError):
        return True
    return False


def describe(exc: BaseException) -> str:
    """An error text for the store and the admin page: the class and message, never a secret
    (our own errors are built without them; anything else is reduced to its type)."""
    if isinstance(exc, errors.WpprivsyncError):
        return f"{type(exc).__name__}: {exc}"[:500]
    return f"{type(exc).__name__} (unexpected; see the daemon log)"


@dataclass
class PassStats:
    done: int = 0
    failed: int = 0
    dead: int = 0
    lost_leases: int = 0
    by_system: dict[str, int] = field(default_factory=dict)

    def add(self, other: "PassStats") -> None:
        self.done += other.done
        self.failed += other.failed
        self.dead += other.dead
        self.lost_leases += other.lost_leases
        for k, v in other.by_system.items():
            self.by_system[k] = self.by_system.get(k, 0) + v


CLAIM_SECONDS = 1.0  # a claim holds about this much of the threads' work
GATHER_S = 0.05  # how long a finished step may wait for others, to be recorded with them
RECORD_BATCH = 32  # steps recorded in one store transaction, at most what a wait gathers


class _StepTime:
    """A moving average of how long steps take (wall seconds), fed by the step threads."""

    def __init__(self, weight: float = 0.2) -> None:
        self._value: float | None = None
        self._weight = weight
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._value = seconds if self._value is None else self._value + self._weight * (seconds - self._value)

    def value(self) -> float | None:
        with self._lock:
            return self._value


class _Finished:
    """Futures as they finish (their done-callback adds them), taken by the recording thread in
    batches. It is woken by the first to finish and then once the batch it asked for is
    complete, not by every step: waking it (or waiting on a hundred futures with
    ``concurrent.futures.wait``) for each step cost more than the steps themselves against
    quick servers, and so did recording them a few at a time."""

    def __init__(self) -> None:
        self._done: list[_StepFuture] = []
        self._wanted = 1
        self._urgent = False  # an urgent request's step is among them
        self._hurry = False  # the recorder wants urgent steps at once (it has others in hand)
        self._cond = threading.Condition()

    def add(self, future: _StepFuture, urgent: bool = False) -> None:
        with self._cond:
            self._done.append(future)
            self._urgent = self._urgent or urgent
            if len(self._done) in (1, self._wanted) or (urgent and self._hurry):
                self._cond.notify()

    def take(self, wanted: int, linger_s: float, *, hurry: bool = False) -> list[_StepFuture]:
        """Wait for one to finish, then up to ``linger_s`` until ``wanted`` have; take them all.
        With ``hurry``, an urgent step ends the wait: its request's next step waits for this
        recording, behind the other steps in hand."""
        with self._cond:
            self._cond.wait_for(lambda: self._done)
            if len(self._done) < wanted and not (hurry and self._urgent):
                self._wanted, self._hurry = wanted, hurry
                self._cond.wait_for(lambda: len(self._done) >= wanted or (hurry and self._urgent), timeout=linger_s)
                self._wanted, self._hurry = 1, False
            taken, self._done, self._urgent = self._done, [], False
            return taken


class _UrgentFirst:
    """The worker's threads, taking the waiting steps urgent first (a request with a legal
    deadline before a consent change), in claim order within each kind. A plain pool runs them
    in submission order, so an erasure's next step, claimed once its previous one was recorded,
    would wait behind every consent change already in hand. Each submission queues the work and
    one pool task, and that task runs the most urgent work waiting when a thread takes it."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._pool = pool
        self._waiting: list[tuple[int, int, Future[Any], Callable[[], Any]]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def submit(self, urgent: bool, work: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            heapq.heappush(self._waiting, (0 if urgent else 1, next(self._seq), future, work))
        self._pool.submit(self._run_next)
        return future

    def _run_next(self) -> None:
        with self._lock:
            _, _, future, work = heapq.heappop(self._waiting)
        if not future.set_running_or_notify_cancel():
            return  # given back before a thread took it
        try:
            future.set_result(work())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
            future.set_exception(exc)


class _Leases:
    """The ids of the steps a worker has in flight, shared with its lease-renewing thread."""

    def __init__(self) -> None:
        self._ids: set[int] = set()
        self._lock = threading.Lock()

    def add(self, ids: Iterable[int]) -> None:
        with self._lock:
            self._ids.update(ids)

    def discard(self, step_id: int) -> None:
        with self._lock:
            self._ids.discard(step_id)

    def ids(self) -> list[int]:
        with self._lock:
            return sorted(self._ids)


class Worker:
    def __init__(self, store: Store, clients: Callable[[str], SiteClients], policy: Policy, *, clock: Clock,
                 worker_id: str, export_dir: Path, max_attempts: int = 8, lease_s: float = 120.0,
                 concurrency: int = 4, max_claim: int = 128, rng: random.Random | None = None, metrics: Metrics | None = None,
                 stop: threading.Event | None = None, scan_max_wait_s: float = SCAN_MAX_WAIT_S,
                 scan_share: float = SCAN_SHARE):
        self.store = store
        self.clients = clients
        self.policy = policy
        self.clock = clock
        self.worker_id = worker_id
        self.export_dir = export_dir
        self.max_attempts = max_attempts
        self.lease_s = lease_s
        self.concurrency = max(1, concurrency)
        self.rng = rng or random.Random()
        self.metrics = metrics
        self.stop = stop or threading.Event()
        self.max_claim = max(2 * self.concurrency, max_claim)
        self._step_s = _StepTime()
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="wpprivsync-step")
        self._threads = _UrgentFirst(self._pool)
        # residue scans: one pass per site at a time; verify steps claimed meanwhile wait here
        # (leased) and go together into the next pass, up to 200 people in one reading
        self._scan_room: dict[str, list[tuple[Step, Request | None, _StepFuture]]] = {}
        self._scanning: set[str] = set()
        self._scan_lock = threading.Lock()
        self.scan_max_wait_s = scan_max_wait_s
        self.scan_share = min(1.0, max(0.001, scan_share))
        self._scan_waiting_since: dict[str, float] = {}  # site -> when its oldest waiting proof came in
        self._scan_paced_until: dict[str, float] = {}  # site -> no pass for a waited-out proof before this

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    @property
    def claim_size(self) -> int:
        """How many steps to hold at once: about a second of the threads' work, at least twice
        the threads (the pool never starves between two claims), at most ``max_claim``. Fast
        steps (a quick site, an idle budget) are claimed and recorded in large batches, whose
        store transactions cost little per step; slow ones (waiting for the ActiveCampaign
        budget) in small claims, so no worker sits on work another one could do."""
        per_step = self._step_s.value()
        if per_step is None:
            return 2 * self.concurrency
        return int(min(self.max_claim, max(2 * self.concurrency, self.concurrency * CLAIM_SECONDS / per_step)))

    # -- passes ------------------------------------------------------------------------
    def run_pass(self, *, max_batches: int | None = None, on_step: Callable[[Step, str], None] | None = None
                 ) -> PassStats:
        """Run due steps until none is left (or ``stop`` is set, or ``max_batches`` claims were
        made). The pool is kept fed: once no more steps wait for a thread than there are
        threads, the worker claims more, up to ``claim_size`` in hand, so one slow step (a
        starved WordPress, a step waiting for the rate budget) never holds the others back.
        Outcomes are recorded by this thread, every step finished since the last look in one
        store transaction. On ``stop``, steps not yet started are given back; steps in flight
        always finish and are recorded before this returns."""
        total = PassStats()
        claims = 0
        in_flight: dict[_StepFuture, Step] = {}
        urgent_ids: set[int] = set()  # steps in hand of requests with a legal deadline
        scans: set[_StepFuture] = set()  # verify steps waiting for, or in, a scan pass
        finished = _Finished()
        urgent_next = False  # an urgent request's step was recorded: its next step may be due
        def others_in_hand() -> bool:
            """Steps of consent changes are in hand beside the urgent ones: only then do urgent
            steps hurry (recorded at once, their next step claimed at once); with urgent steps
            alone in hand their order is the claim's, and batches stay large."""
            return len(in_flight) - len(scans) > len(urgent_ids)

        with self._renewing() as leases:
            while True:
                busy = len(in_flight) - len(scans)
                may_claim = not self.stop.is_set() and (max_batches is None or claims < max_batches)
                claimed: list[Step] = []
                if may_claim and busy <= self.concurrency:
                    claimed = self.store.claim_steps(self.worker_id, self.clock(),
                                                     limit=self.claim_size - busy, lease_s=self.lease_s)
                elif may_claim and urgent_next and others_in_hand():
                    # the threads still have plenty in hand, but the next step of an erasure (or
                    # export, comment removal ...) must not wait until they ran dry
                    claimed = self.store.claim_steps(self.worker_id, self.clock(), limit=self.concurrency,
                                                     lease_s=self.lease_s, urgent_only=True)
                urgent_next = False
                if claimed:
                    claims += 1
                    leases.add(s.id for s in claimed)
                    requests = self.store.get_requests({s.request_id for s in claimed})
                    prefetched = self._erase_in_one_call(claimed, requests)
                    for step in claimed:
                        request = requests.get(step.request_id)
                        urgent = False  # a proof is its request's last step: nothing waits for it
                        if (step.system, step.action) == ("wordpress", "verify"):
                            future: _StepFuture = Future()
                            self._scan_room.setdefault(step.site, []).append((step, request, future))
                            scans.add(future)
                        else:
                            urgent = _is_urgent(request)
                            future = self._threads.submit(
                                urgent, functools.partial(self._execute, step, request, prefetched.get(step.id)))
                        in_flight[future] = step
                        if urgent:
                            urgent_ids.add(step.id)
                        future.add_done_callback(functools.partial(finished.add, urgent=urgent))
                if not self.stop.is_set():
                    self._start_scans(idle=len(in_flight) == len(scans))
                if not in_flight:
                    break
                if self.stop.is_set():
                    self._give_back(in_flight, leases)
                    if not in_flight:
                        break
                # record in batches, but never let the threads run dry waiting for one: wait for
                # no more than leaves a thread's worth of steps queued
                wanted = max(1, min(RECORD_BATCH, len(in_flight) - len(scans) - 2 * self.concurrency))
                taken = finished.take(wanted, GATHER_S, hurry=others_in_hand())
                scans.difference_update(taken)
                outcomes = [f.result() for f in taken if in_flight.pop(f, None) is not None]
                for step, verdict, stats in self._record(outcomes):
                    leases.discard(step.id)
                    if step.id in urgent_ids:
                        urgent_ids.discard(step.id)
                        urgent_next = True
                    total.add(stats)
                    if on_step is not None:
                        on_step(step, verdict)
        if total.done or total.failed or total.dead or total.lost_leases:
            # one line a pass at INFO (each step at DEBUG; each failure as it happens)
            log.info("steps done", extra={"done": total.done, "failed": total.failed, "dead": total.dead,
                                          "lost_leases": total.lost_leases, "by_system": dict(total.by_system)})
        if total.done:
            # requests that finished had their emails cleared: take them out of the WAL too
            self.store.checkpoint()
        return total

    def _start_scans(self, *, idle: bool) -> None:
        """Start a scan pass for each site with verify steps waiting and none running: at once
        when the worker has no other step in hand (``idle``), else only once the oldest has
        waited ``scan_max_wait_s``, and then no more often than keeps such passes to
        ``scan_share`` of the time."""
        now = time.monotonic()
        for site, waiting in list(self._scan_room.items()):
            waiting = [w for w in waiting if not w[2].cancelled()]
            self._scan_room[site] = waiting
            if not waiting:
                self._scan_waiting_since.pop(site, None)
                continue
            since = self._scan_waiting_since.setdefault(site, now)
            if not idle and (now - since < self.scan_max_wait_s or now < self._scan_paced_until.get(site, 0.0)):
                continue
            with self._scan_lock:
                if site in self._scanning:
                    continue
                self._scanning.add(site)
            self._scan_room[site] = waiting[residues.MAX_EMAILS:]
            if self._scan_room[site]:
                self._scan_waiting_since[site] = now
            else:
                self._scan_waiting_since.pop(site, None)
            self._pool.submit(self._scan_pass, site, waiting[:residues.MAX_EMAILS])

    def _scan_pass(self, site: str, group: list[tuple[Step, Request | None, _StepFuture]]) -> None:
        """One reading of the site for every person of ``group`` (in a pool thread); each verify
        step then records its own share. A failed reading fails each step (retried alone or in
        a later pass)."""
        outcomes: list[tuple[_StepFuture, tuple[Step, Outcome | BaseException]]] = []
        started = time.monotonic()
        try:
            live = [(s, r, f) for s, r, f in group if f.set_running_or_notify_cancel()]
            people = [(s, r) for s, r, _ in live if r is not None and r.email]
            shares: dict[int, residues.ScanReport] = {}
            failure: BaseException | None = None
            if len(people) > 1:
                ids = ",".join(str(s.id) for s, _ in people)
                key = "residue-scan:pass:" + hashlib.sha256(ids.encode()).hexdigest()[:32]
                try:
                    report = residues.scan(self.clients(site).wordpress, [str(r.email) for _, r in people],
                                           evidence_days=self.policy.evidence_days,
                                           state=residues.ScanState(self.store.get_state, self.store.set_state, key),
                                           hashes=[str(r.email_hash) for _, r in people])
                    shares = {s.id: report.only(i) for i, (s, _) in enumerate(people)}
                except Exception as exc:  # noqa: BLE001 - recorded as each step's failure
                    failure = exc
            for step, request, future in live:
                outcome = (step, failure) if failure is not None else self._execute(step, request, shares.get(step.id))
                outcomes.append((future, outcome))
        finally:
            ended = time.monotonic()
            with self._scan_lock:
                self._scanning.discard(site)
                self._scan_paced_until[site] = ended + (ended - started) * (1 / self.scan_share - 1)
            for future, outcome in outcomes:
                future.set_result(outcome)

    def _give_back(self, in_flight: dict[_StepFuture, Step], leases: "_Leases") -> None:
        """Stopping: cancel the steps no thread has started and release their leases, so the
        next worker (or this one, restarted) takes them at once instead of after the lease."""
        cancelled = [f for f in list(in_flight) if f.cancel()]
        if not cancelled:
            return
        ids = [in_flight.pop(f).id for f in cancelled]
        for step_id in ids:
            leases.discard(step_id)
        try:
            self.store.release_steps(self.worker_id, ids, self.clock())
        except errors.StoreError as exc:
            log.warning("could not release unstarted steps; their leases will run out",
                        extra={"steps": len(ids), "error": str(exc)})

    def _execute(self, step: Step, request: Request | None, prefetched: dict[str, Any] | residues.ScanReport | None
                 ) -> tuple[Step, Outcome | BaseException]:
        """Run a step's handler (in a pool thread); the outcome, or the exception it raised."""
        started = time.monotonic()
        try:
            if request is None:
                raise errors.StepFailed(f"request {step.request_id} is gone", retryable=False)
            fn = HANDLERS.get((step.system, step.action))
            if fn is None:
                raise errors.StepFailed(f"no handler for {step.system}.{step.action}", retryable=False)
            site = self.clients(step.site)
            ctx = StepContext(site=site.site, request=request, step=step, wordpress=site.wordpress,
                              activecampaign=site.activecampaign, store=self.store, policy=self.policy,
                              webinarjam=getattr(site, "webinarjam", None),
                              now=self.clock(), export_dir=self.export_dir, prefetched=prefetched)
            return step, fn(ctx)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, none escapes
            return step, exc
        finally:
            self._step_s.add(time.monotonic() - started)

    def _record(self, outcomes: list[tuple[Step, Outcome | BaseException]]) -> list[tuple[Step, str, PassStats]]:
        """Record outcomes: every success in one transaction, each failure on its own. If the
        store cannot take the batch, each success is recorded on its own, so one that cannot be
        recorded is retried like any failed step."""
        done = [(step, out) for step, out in outcomes if isinstance(out, Outcome)]
        results: list[tuple[Step, str, PassStats]] = []
        held: list[bool | None] = [None] * len(done)
        if done:
            try:
                held = list(self.store.finish_steps(self.worker_id, self.clock(), [
                    FinishedStep(step.id, out.result, out.audit, out.suppress) for step, out in done]))
            except errors.StoreError as exc:
                log.warning("could not record a batch of steps; recording them one by one",
                            extra={"steps": len(done), "error": str(exc)})
        for (step, out), ok in zip(done, held):
            try:
                if ok is None:
                    ok = self.store.finish_step(step.id, self.worker_id, self.clock(), result=out.result,
                                                audit=out.audit, suppress=out.suppress)
            except errors.StoreError as exc:
                results.append((step, *self._failed(step, exc)))
                continue
            results.append((step, *self._recorded(step, ok)))
        results += [(step, *self._failed(step, out)) for step, out in outcomes if not isinstance(out, Outcome)]
        return results

    def _recorded(self, step: Step, held: bool) -> tuple[str, PassStats]:
        stats = PassStats()
        if held:
            stats.done += 1
            stats.by_system[step.system] = 1
            self._count(step, "done")
            log.debug("step done", extra={"step_id": step.id, "request_id": step.request_id,
                                          "system": step.system, "action": step.action})
            return "done", stats
        stats.lost_leases += 1
        log.warning("lease lost before the step finished; another worker owns it",
                    extra={"step_id": step.id, "system": step.system, "action": step.action})
        return "lost", stats

    @contextmanager
    def _renewing(self) -> Iterator["_Leases"]:
        """Keep the leases of the steps in hand alive, renewing every third of the lease until
        they are recorded, so a step slowed down by the rate budget or a slow site is never
        taken over by another worker while it still runs. A dead worker stops renewing, and
        its steps go to others once the lease runs out."""
        leases = _Leases()
        done = threading.Event()

        def renew() -> None:
            while not done.wait(self.lease_s / 3):
                try:
                    self.store.renew_leases(self.worker_id, leases.ids(), self.clock(), self.lease_s)
                except errors.StoreError as exc:
                    log.warning("could not renew leases", extra={"error": str(exc)})

        thread = threading.Thread(target=renew, name="wpprivsync-lease", daemon=True)
        thread.start()
        try:
            yield leases
        finally:
            done.set()
            thread.join()

    def _erase_in_one_call(self, steps: list[Step], requests: dict[int, Request]) -> dict[int, dict[str, Any]]:
        """WordPress erasures claimed together go to the plugin in ``erase/batch`` requests of
        up to ``ERASE_BATCH_MAX`` people (one WordPress start-up instead of one per person);
        each step then records its own answer. If a batch call fails, or one person's erasure
        in it did, those steps simply make their own call and fail or retry on their own."""
        by_site: dict[str, list[tuple[Step, str]]] = {}
        for step in steps:
            if (step.system, step.action) != ("wordpress", "erase") or step.params.get("exclude"):
                continue
            request = requests.get(step.request_id)
            if request is not None and request.email:
                by_site.setdefault(step.site, []).append((step, request.email))
        answers: dict[int, dict[str, Any]] = {}
        for site, items in by_site.items():
            for i in range(0, len(items), ERASE_BATCH_MAX):
                chunk = items[i:i + ERASE_BATCH_MAX]
                if len(chunk) < 2:
                    continue
                try:
                    results = self.clients(site).wordpress.erase_batch([email for _, email in chunk])
                except errors.WpprivsyncError as exc:
                    log.info("batch erasure failed; erasing one by one", extra={"site": site, "error": str(exc)})
                    continue
                for (step, _), result in zip(chunk, results):
                    if isinstance(result, dict) and "error" not in result:
                        answers[step.id] = result
        return answers

    def _failed(self, step: Step, exc: BaseException) -> tuple[str, PassStats]:
        stats = PassStats()
        if isinstance(exc, errors.NotYet):
            self.store.defer_step(step.id, self.worker_id, self.clock(),
                                  retry_at=self.clock() + timedelta(seconds=exc.retry_after), note=str(exc))
            log.debug("step deferred", extra={"step_id": step.id, "system": step.system, "action": step.action,
                                              "retry_after_s": exc.retry_after})
            return "deferred", stats
        attempt = step.attempts + 1
        retryable = is_retryable(exc)
        text = describe(exc)
        if retryable and attempt < self.max_attempts:
            delay = exponential_backoff_with_jitter(attempt - 1, self.rng, base_s=STEP_RETRY_BASE_S,
                                                    cap_s=STEP_RETRY_CAP_S)
            if isinstance(exc, errors.RateLimited) and exc.retry_after:
                delay = max(delay, float(exc.retry_after))
            retry_at = self.clock() + timedelta(seconds=delay)
            verdict = "retry"
            stats.failed += 1
        else:
            retry_at = None
            verdict = "dead"
            stats.dead += 1
        self.store.fail_step(step.id, self.worker_id, self.clock(), error=text, retry_at=retry_at)
        self._count(step, "failed" if verdict == "retry" else "dead")
        level = logging.WARNING if verdict == "retry" else logging.ERROR
        log.log(level, "step failed", extra={"step_id": step.id, "system": step.system, "action": step.action,
                                             "attempt": attempt, "verdict": verdict, "error": text},
                exc_info=None if isinstance(exc, errors.WpprivsyncError) else exc)
        return verdict, stats

    def _count(self, step: Step, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.step(step.system, outcome)
