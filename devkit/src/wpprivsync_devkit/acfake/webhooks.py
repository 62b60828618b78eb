"""Webhook delivery from a background thread, as ActiveCampaign does it.

An event is matched against the account's webhooks when it happens (``events`` holds the
type, ``sources`` the origin, ``listid`` 0 or the event's list) and POSTed as
``application/x-www-form-urlencoded`` with PHP-style keys (``contact[email]``…). Delivery is
at least once: one attempt per matching webhook, plus a duplicate when ``duplicate_rate`` says
so. A receiver answering 410 deactivates the webhook; one slower than ``timeout`` seconds counts
as failed. Every attempt is recorded in ``deliveries``.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from typing import Any

import requests

from .state import AccountState, Event

DELIVERY_TIMEOUT_S = 5.0


def form_for(account: AccountState, event: Event) -> dict[str, str]:
    """The form body of one event (see activecampaign-webhooks-asyncapi.yml)."""
    with account.lock:
        c = account.contacts.get(event.contact_id) or {"id": event.contact_id, "email": "", "firstName": "",
                                                        "lastName": "", "phone": ""}
        tags = [account.tags[ct["tag"]]["tag"] for ct in account.contact_tags.values()
                if ct["contact"] == event.contact_id and ct["tag"] in account.tags]
        fields = {account.fields[fid]["perstag"].lower(): fv["value"]
                  for (cid, fid), fv in account.field_values.items()
                  if cid == event.contact_id and fid in account.fields}
        active = [str(lid) for (cid, lid), cl in account.contact_lists.items()
                  if cid == event.contact_id and cl["status"] == 1]
    form = {
        "type": event.type,
        "date_time": event.date_time,
        "initiated_by": event.source,
        "initiated_from": event.source,
        "list": str(event.list_id),
        "contact[id]": str(c["id"]),
        "contact[email]": c["email"],
        "contact[first_name]": c["firstName"],
        "contact[last_name]": c["lastName"],
        "contact[phone]": c["phone"],
        "contact[tags]": ", ".join(tags),
        "contact[ip]": "0.0.0.0",
        "contact[orgname]": "",
    }
    for perstag, value in fields.items():
        form[f"contact[fields][{perstag}]"] = value
    if event.type == "unsubscribe":
        form["list[0][id]"] = str(event.list_id)
        for i, lid in enumerate(active):
            form[f"active_subscriptions[{i}]"] = lid
    form.update(event.extra)
    return form


class Deliverer:
    def __init__(self, *, timeout: float = DELIVERY_TIMEOUT_S, seed: int | None = None):
        self.timeout = timeout
        self.duplicate_rate = 0.0
        self._rng = random.Random(seed)
        self._queue: "queue.Queue[Any]" = queue.Queue()
        self._cond = threading.Condition()
        self._pending = 0
        self.deliveries: list[dict[str, Any]] = []
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, name="acfake-webhooks", daemon=True)
        self._thread.start()

    def enqueue(self, account: AccountState, event: Event) -> None:
        """Called under the account lock when an event happens: pick the webhooks now."""
        targets = [dict(w) for w in account.webhooks.values()
                   if w["active"] and event.type in w["events"] and event.source in w["sources"]
                   and int(w["listid"]) in (0, event.list_id)]
        if not targets:
            return
        form = form_for(account, event)
        for hook in targets:
            copies = 2 if (self.duplicate_rate and self._rng.random() < self.duplicate_rate) else 1
            for _ in range(copies):
                with self._cond:
                    self._pending += 1
                self._queue.put((account, hook, form))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            account, hook, form = item
            record: dict[str, Any] = {"account": account.name, "webhook": hook["id"], "url": hook["url"],
                                      "type": form["type"], "form": form, "at": time.time()}
            try:
                resp = self._session.post(hook["url"], data=form, timeout=self.timeout,
                                          headers={"User-Agent": "ActiveCampaign/Webhooks (wpprivsync fake)"})
                record["status"] = resp.status_code
                if resp.status_code == 410:
                    with account.lock:
                        if hook["id"] in account.webhooks:
                            account.webhooks[hook["id"]]["active"] = False
            except requests.RequestException as exc:
                record["status"] = None
                record["error"] = type(exc).__name__
            with self._cond:
                self.deliveries.append(record)
                self._pending -= 1
                self._cond.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued delivery has been attempted."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until at least ``count`` deliveries were attempted; returns them all."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.deliveries) >= count, timeout)
            return list(self.deliveries)

    def clear(self) -> None:
        with self._cond:
            self.deliveries.clear()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=self.timeout + 1)
        self._session.close()
