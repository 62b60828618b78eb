"""Wiring, built once per process from the settings and passed down: the store, the policy,
one client per system per site (sharing one ActiveCampaign rate budget per account), the
clock. Tests build an ``App`` with their own session factory and clock."""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import Callable

import requests

from .clients.protocols import ActiveCampaignApi, WebinarJamApi, WordPressApi
from .engine.plan import Planner
from .engine.worker import Worker
from .metrics import Metrics
from .policy import Policy
from .settings import Settings, SiteSettings
from .store.api import Store


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class SiteClients:
    site: SiteSettings
    wordpress: WordPressApi
    activecampaign: ActiveCampaignApi
    webinarjam: WebinarJamApi | None = None  # None when the site has no WebinarJam webinars configured


class App:
    def __init__(self, settings: Settings, *, session_factory: Callable[[], requests.Session] = requests.Session,
                 clock: Callable[[], datetime] = utcnow, sleep: Callable[[float], None] = time.sleep,
                 metrics: Metrics | None = None):
        self.settings = settings
        self.session_factory = session_factory
        self.clock = clock
        self.sleep = sleep
        self.metrics = metrics
        self._clients: dict[str, SiteClients] = {}
        self._lock = threading.Lock()

    # -- parts -------------------------------------------------------------------------
    @cached_property
    def store(self) -> Store:
        from .store import open_store

        return open_store(self.settings.store_url)

    @cached_property
    def policy(self) -> Policy:
        from .policy import load_policy

        return load_policy(self.settings.policy_file)

    @property
    def secret(self) -> str:
        return self.settings.secret

    def site(self, name: str | None = None) -> SiteSettings:
        return self.settings.site(name)

    @property
    def sites(self) -> list[SiteSettings]:
        return list(self.settings.sites)

    def clients(self, name: str) -> SiteClients:
        with self._lock:
            if name not in self._clients:
                self._clients[name] = self._build_clients(self.settings.site(name))
            return self._clients[name]

    def _build_clients(self, site: SiteSettings) -> SiteClients:
        from .clients.activecampaign import ActiveCampaignClient
        from .clients.ratebudget import rate_budget
        from .clients.wordpress import WordPressClient

        assert site.wordpress_app_password is not None and site.activecampaign_token is not None
        wordpress = WordPressClient(str(site.wordpress_url), site.wordpress_user,
                                    site.wordpress_app_password.get_secret_value(),
                                    session=self.session_factory(), verify=site.verify_tls)
        budget = rate_budget(site.account_key, store_url=self.settings.store_url)
        activecampaign = ActiveCampaignClient(str(site.activecampaign_url), site.activecampaign_token.get_secret_value(),
                                              session=self.session_factory(), budget=budget, sleep=self.sleep)
        webinarjam: WebinarJamApi | None = None
        if site.webinarjam:
            from .clients.webinarjam import WebinarJamClient

            assert site.webinarjam_api_key is not None
            webinarjam = WebinarJamClient(str(site.webinarjam_url), site.webinarjam_api_key.get_secret_value(),
                                          session=self.session_factory(), sleep=self.sleep)
        return SiteClients(site, wordpress, activecampaign, webinarjam)

    def planner(self, site_name: str) -> Planner:
        policy = self.policy
        comment_data = bool(getattr(policy, "comment_tags", ()) or getattr(policy, "comment_field_ids", ()))
        return Planner(site_name, self.secret, policy.response_due, comment_data=comment_data,
                       webinarjam=self.settings.site(site_name).webinarjam,
                       manual_tasks=bool(self.settings.site(site_name).manual_task_systems),
                       residue_scan=self.settings.site(site_name).residue_scan)

    def worker(self, *, stop: threading.Event | None = None, worker_id: str | None = None,
               concurrency: int | None = None) -> Worker:
        wid = worker_id or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 10000}"
        return Worker(self.store, self.clients, self.policy, clock=self.clock, worker_id=wid,
                      export_dir=self.settings.export_dir, max_attempts=self.settings.max_attempts,
                      lease_s=self.settings.step_lease_s, scan_max_wait_s=self.settings.residue_scan_max_wait_s,
                      concurrency=concurrency or self.settings.step_concurrency, metrics=self.metrics, stop=stop)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
