"""``wpprivsync run``: the background daemon, APScheduler 3 jobs over the services.

    poll         every ``poll_interval_s``: pull each site's events, run due steps
                 (with ``workers`` > 1, that many - 1 extra processes only run due steps;
                 work is claimed with leases, so they never run one step twice)
    heartbeat    every ``heartbeat_interval_s``: queue, failures and recent requests → plugin
    reconcile    daily at ``reconcile_at`` (UTC): WordPress consent vs ActiveCampaign lists
    retention    daily at ``retention_at`` (UTC): orders past retention anonymised; WebinarJam
                 sessions recorded and those past the 30-day rule given a deletion task;
                 expired export archives deleted

SIGTERM or SIGINT sets a stop flag: the worker finishes the steps in flight and records them,
the scheduler waits for running jobs, and the process exits 0.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from . import errors, services
from .app import App
from .engine.reconcile import reconcile
from .engine.retention import sweep_exports, sweep_orders
from .engine.webinars import sweep_webinars

log = logging.getLogger(__name__)

RESPAWN_S = 10.0  # least time between two starts of one extra worker process


class Daemon:
    """``worker_only``: run due steps and nothing else (the extra processes ``workers > 1``
    starts; the main process polls, heartbeats and runs the daily jobs). ``config_path``: the
    settings file the daemon was started with (``--config``), handed to those processes."""

    def __init__(self, app: App, *, stop: threading.Event | None = None, worker_only: bool = False,
                 config_path: Path | None = None):
        self.app = app
        self.worker_only = worker_only
        self.config_path = config_path
        self.children: list[subprocess.Popen[bytes]] = []
        self._spawned_at: list[float] = []
        self.stop = stop or threading.Event()
        self.worker = app.worker(stop=self.stop)
        self.last_error: dict[str, str | None] = {s.name: None for s in app.sites}
        self._retention_pushed: set[str] = set()
        self.scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                           "misfire_grace_time": 3600})

    # -- jobs ----------------------------------------------------------------------------
    def work(self) -> None:
        if not self.stop.is_set():
            self.worker.run_pass(max_batches=50)

    def _due(self, job: str, site: str, hours: float = 12.0) -> bool:
        """Daily jobs run once a day even when several daemons share a store: a run within the
        last ``hours`` (recorded by the job in the store) means another daemon did it."""
        last = self.app.store.get_state(f"{job}:{site}")
        if not last:
            return True
        try:
            when = datetime.fromisoformat(last)
        except ValueError:
            return True
        return self.app.clock() - when >= timedelta(hours=hours)

    def poll(self) -> None:
        for site in self.app.sites:
            if self.stop.is_set():
                return
            try:
                if site.name not in self._retention_pushed:
                    services.push_retention(self.app, site.name)
                    self._retention_pushed.add(site.name)
                services.pull(self.app, site.name)
                self.last_error[site.name] = None
            except errors.WpprivsyncError as exc:
                self.last_error[site.name] = str(exc)
                log.warning("poll failed", extra={"site": site.name, "error": str(exc)})
        if not self.stop.is_set():
            self.worker.run_pass(max_batches=50)

    def heartbeat(self) -> None:
        for site in self.app.sites:
            try:
                services.send_heartbeat(self.app, site.name, last_error=self.last_error.get(site.name))
                services.push_requests_mirror(self.app, site.name)
            except errors.WpprivsyncError as exc:
                log.warning("heartbeat failed", extra={"site": site.name, "error": str(exc)})
        if self.app.metrics is not None:
            try:
                self.app.metrics.observe(services.status(self.app),
                                         [self.app.clients(s.name).activecampaign for s in self.app.sites])
            except errors.WpprivsyncError:
                pass

    def reconcile(self) -> None:
        for site in self.app.sites:
            if not self._due("reconcile", site.name):
                continue
            c = self.app.clients(site.name)
            try:
                reconcile(site, c.wordpress, c.activecampaign, self.app.store, self.app.planner(site.name),
                          self.app.secret, self.app.clock)
            except errors.WpprivsyncError as exc:
                self.last_error[site.name] = f"reconcile: {exc}"
                log.error("reconcile failed", extra={"site": site.name, "error": str(exc)})

    def retention(self) -> None:
        now = self.app.clock()
        for site in self.app.sites:
            if not self._due("retention", site.name):
                continue
            try:
                sweep_orders(site, self.app.clients(site.name).wordpress, self.app.store, self.app.policy,
                             now.date(), now)
                scrubbed = self.app.clients(site.name).wordpress.scrub_requests(self.app.policy.evidence_days)
                if scrubbed.get("scrubbed"):
                    log.info("request records scrubbed", extra={"site": site.name, "count": scrubbed["scrubbed"]})
                sweep_webinars(site, self.app.clients(site.name).webinarjam, self.app.store, self.app.policy,
                               now.date(), now)
                services.order_schedule(self.app, site.name, now.date())
            except errors.WpprivsyncError as exc:
                self.last_error[site.name] = f"retention: {exc}"
                log.error("retention sweep failed", extra={"site": site.name, "error": str(exc)})
        removed = sweep_exports(self.app.settings.export_dir, self.app.policy.export_ttl_days, now)
        if removed:
            log.info("expired exports deleted", extra={"count": removed})

    # -- lifecycle -------------------------------------------------------------------------
    def schedule(self) -> None:
        s = self.app.settings
        if self.worker_only:
            self.scheduler.add_job(self._guard(self.work), "interval", seconds=s.poll_interval_s, id="work",
                                   next_run_time=self.app.clock())
            return
        self.scheduler.add_job(self._guard(self.poll), "interval", seconds=s.poll_interval_s, id="poll",
                               next_run_time=self.app.clock())
        self.scheduler.add_job(self._guard(self.heartbeat), "interval", seconds=s.heartbeat_interval_s,
                               id="heartbeat", next_run_time=self.app.clock())
        hour, minute = (int(x) for x in s.reconcile_at.split(":"))
        self.scheduler.add_job(self._guard(self.reconcile), CronTrigger(hour=hour, minute=minute, timezone="UTC"),
                               id="reconcile")
        hour, minute = (int(x) for x in s.retention_at.split(":"))
        self.scheduler.add_job(self._guard(self.retention), CronTrigger(hour=hour, minute=minute, timezone="UTC"),
                               id="retention")

    def _guard(self, job: Any) -> Any:
        def run() -> None:
            try:
                job()
            except Exception:  # noqa: BLE001 - a job never kills the scheduler thread
                log.exception("job failed", extra={"job": job.__name__})
        run.__name__ = job.__name__
        return run

    def run(self, *, install_signals: bool = True) -> int:
        if install_signals:
            signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
            signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        if self.app.metrics is not None and self.app.settings.metrics_port:
            self.app.metrics.serve(self.app.settings.metrics_port)
        self.schedule()
        self.scheduler.start()
        if not self.worker_only:
            self.children = [self._spawn_worker() for _ in range(self.app.settings.workers - 1)]
            self._spawned_at = [time.monotonic()] * len(self.children)
        log.info("daemon started", extra={"sites": len(self.app.sites), "worker_only": self.worker_only,
                                          "workers": 1 + len(self.children)})
        try:
            while not self.stop.wait(0.5):
                self._revive_children()
        finally:
            log.info("stopping: finishing the steps in flight")
            for child in self.children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            self.scheduler.shutdown(wait=True)
            self.worker.close()
            for child in self.children:
                try:
                    child.wait(timeout=self.app.settings.step_lease_s)
                except subprocess.TimeoutExpired:
                    child.kill()
            if not self.worker_only:
                try:
                    self.heartbeat()
                except Exception:  # noqa: BLE001
                    pass
            self.app.close()
            log.info("daemon stopped")
        return 0

    def _spawn_worker(self) -> subprocess.Popen[bytes]:
        """An extra worker process with the same settings (environment and config file)."""
        config = ["--config", str(self.config_path)] if self.config_path is not None else []
        return subprocess.Popen([sys.executable, "-m", "wpprivsync.cli", *config, "run", "--worker-only"])

    def _revive_children(self) -> None:
        """Start another worker for one that exited, at most one start per worker every
        ``RESPAWN_S`` (a worker that cannot start at all must not be restarted in a loop)."""
        for i, child in enumerate(self.children):
            if child.poll() is None or self.stop.is_set() or time.monotonic() - self._spawned_at[i] < RESPAWN_S:
                continue
            log.warning("worker process exited; starting another", extra={"code": child.returncode})
            self.children[i] = self._spawn_worker()
            self._spawned_at[i] = time.monotonic()
