"""Claim due steps, run them, record the outcome.

A step is claimed with a lease; if the worker dies mid-step the lease runs out and another pass
runs the step again, which is harmless because every handler is idempotent. A failure that may
pass (network, 5xx, 429, timeouts, credentials being fixed) is retried with exponential
backoff and jitter; after ``max_attempts`` attempts, or at once for a failure no retry can mend,
the step goes to the dead-letter list, where ``status``, the admin page and ``retry`` see it.
"""

from __future__ import annotations

import logging
import random
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

from .. import errors
from ..store.api import Step, Store
from .steps import HANDLERS, Outcome, StepContext

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class SiteClients(Protocol):
    """What the worker needs per site: its settings and one client per system."""

    site: Any
    wordpress: Any
    activecampaign: Any


def backoff_delay(attempt: int, rng: random.Random, *, base_s: float = 2.0, cap_s: float = 900.0) -> float:
    """Seconds to wait before attempt ``attempt + 1``: exponential, capped, with full jitter
    between half and all of the step (so retries of many steps spread out)."""
    step = min(cap_s, base_s * (2 ** max(0, attempt - 1)))
    return step * (0.5 + rng.random() / 2)


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
    def __init__(self, store: Store, clients: Callable[[str], SiteClients], policy: Any, *, clock: Clock,
                 worker_id: str, export_dir: Path, max_attempts: int = 8, lease_s: float = 120.0,
                 concurrency: int = 4, rng: random.Random | None = None, metrics: Any = None,
                 stop: threading.Event | None = None):
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
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="wpprivsync-step")
        self._refill_at = max(1, self.concurrency // 2)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # -- passes ------------------------------------------------------------------------
    def run_pass(self, *, max_batches: int | None = None, on_step: Callable[[Step, str], None] | None = None
                 ) -> PassStats:
        """Run due steps until none is left (or ``stop`` is set, or ``max_batches`` claims were
        made). Threads are kept fed: whenever some are free, the worker claims that many steps,
        so one slow step (a starved WordPress, a step waiting for the rate budget) never holds
        the others back. Steps in flight always finish and are recorded before this returns."""
        total = PassStats()
        claims = 0
        in_flight: dict[Future, Step] = {}
        with self._renewing() as leases:
            while True:
                free = self.concurrency - len(in_flight)
                claimed: list[Step] = []
                # Claim when half the threads are free (or all, with nothing in flight): fewer,
                # larger claims cost less, and no thread idles long.
                wanted = free >= self._refill_at or (free > 0 and not in_flight)
                if wanted and not self.stop.is_set() and (max_batches is None or claims < max_batches):
                    # Never more than there are free threads: a claimed step waiting for a thread
                    # would hold a lease it does not use.
                    claimed = self.store.claim_steps(self.worker_id, self.clock(), limit=free, lease_s=self.lease_s)
                    if claimed:
                        claims += 1
                        leases.add(s.id for s in claimed)
                        prefetched = self._erase_in_one_call(claimed)
                        for step in claimed:
                            in_flight[self._pool.submit(self.run_step, step, prefetched.get(step.id))] = step
                if not in_flight:
                    break
                if claimed and self.concurrency - len(in_flight) >= self._refill_at:
                    continue  # the queue may hold more: fill the free threads first
                finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    step = in_flight.pop(future)
                    leases.discard(step.id)
                    stats, verdict = future.result()
                    total.add(stats)
                    if on_step is not None:
                        on_step(step, verdict)
        return total

    @contextmanager
    def _renewing(self) -> Iterator["_Leases"]:
        """Keep the leases of the steps in flight alive, renewing every third of the lease until
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

    def _erase_in_one_call(self, steps: list[Step]) -> dict[int, dict[str, Any]]:
        """WordPress erasures claimed together go to the plugin in one ``erase/batch`` request
        (one WordPress start-up instead of one per person); each step then records its own
        answer. If the batch call fails, or one person's erasure in it did, those steps simply
        make their own call and fail or retry on their own."""
        by_site: dict[str, list[tuple[Step, str]]] = {}
        for step in steps:
            if (step.system, step.action) != ("wordpress", "erase") or step.params.get("exclude"):
                continue
            request = self.store.get_request(step.request_id)
            if request is not None and request.email:
                by_site.setdefault(step.site, []).append((step, request.email))
        answers: dict[int, dict[str, Any]] = {}
        for site, items in by_site.items():
            if len(items) < 2:
                continue
            try:
                results = self.clients(site).wordpress.erase_batch([email for _, email in items])
            except errors.WpprivsyncError as exc:
                log.info("batch erasure failed; erasing one by one", extra={"site": site, "error": str(exc)})
                continue
            for (step, _), result in zip(items, results):
                if isinstance(result, dict) and "error" not in result:
                    answers[step.id] = result
        return answers

    def run_step(self, step: Step, prefetched: dict[str, Any] | None = None) -> tuple[PassStats, str]:
        stats = PassStats()
        request = self.store.get_request(step.request_id)
        now = self.clock()
        try:
            if request is None:
                raise errors.StepFailed(f"request {step.request_id} is gone", retryable=False)
            fn = HANDLERS.get((step.system, step.action))
            if fn is None:
                raise errors.StepFailed(f"no handler for {step.system}.{step.action}", retryable=False)
            site = self.clients(step.site)
            ctx = StepContext(site=site.site, request=request, step=step, wordpress=site.wordpress,
                              activecampaign=site.activecampaign, store=self.store, policy=self.policy,
                              now=now, export_dir=self.export_dir, prefetched=prefetched)
            outcome: Outcome = fn(ctx)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, none escapes
            return self._failed(step, exc, stats)
        if self.store.finish_step(step.id, self.worker_id, self.clock(), result=outcome.result, audit=outcome.audit):
            stats.done += 1
            stats.by_system[step.system] = stats.by_system.get(step.system, 0) + 1
            self._count(step, "done")
            log.info("step done", extra={"step_id": step.id, "request_id": step.request_id,
                                         "system": step.system, "action": step.action})
            return stats, "done"
        stats.lost_leases += 1
        log.warning("lease lost before the step finished; another worker owns it",
                    extra={"step_id": step.id, "system": step.system, "action": step.action})
        return stats, "lost"

    def _failed(self, step: Step, exc: BaseException, stats: PassStats) -> tuple[PassStats, str]:
        attempt = step.attempts + 1
        retryable = is_retryable(exc)
        text = describe(exc)
        if retryable and attempt < self.max_attempts:
            delay = backoff_delay(attempt, self.rng)
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
                exc_info=not isinstance(exc, errors.WpprivsyncError))
        return stats, verdict

    def _count(self, step: Step, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.step(step.system, outcome)
