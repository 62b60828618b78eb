"""WebinarJam's 30-day rule. The API shows a session's schedule id only while it is known (a
past session's may vanish once it ended), so every sweep records the sessions it sees in the
store's state; a session that ended more than the policy's ``days`` ago and still has
registrants is due for deletion. The API cannot delete: what is due becomes a manual task
(due on the rule's date), listed by ``retention --dry-run``.

A series shares one schedule id across its sessions: a (webinar, schedule) is due after its
last session.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, time, timezone
from typing import Any

from ..store.api import NewTask, Store

log = logging.getLogger(__name__)


def _state_key(site: str, webinar_id: int) -> str:
    return f"webinarjam:sessions:{site}:{int(webinar_id)}"


def _session_day(text: str) -> date | None:
    try:
        return datetime.fromisoformat(str(text).strip().replace("Z", "+00:00")).date()
    except ValueError:
        try:
            return date.fromisoformat(str(text).strip()[:10])
        except ValueError:
            return None


def record_sessions(site: Any, webinarjam: Any, store: Store, now: datetime) -> dict[int, list[dict[str, Any]]]:
    """Merge the sessions the API shows now into those recorded before; returns every known
    session per webinar ({schedule, date, first_seen})."""
    out: dict[int, list[dict[str, Any]]] = {}
    for webinar_id in site.webinarjam_webinar_ids:
        key = _state_key(site.name, webinar_id)
        try:
            known = json.loads(store.get_state(key) or "[]")
        except ValueError:
            known = []
        seen = {(int(s["schedule"]), str(s["date"])) for s in known}
        for s in webinarjam.sessions(int(webinar_id)):
            if (s.schedule, s.date) not in seen and _session_day(s.date) is not None:
                known.append({"schedule": s.schedule, "date": s.date, "first_seen": now.isoformat(timespec="seconds")})
                seen.add((s.schedule, s.date))
        store.set_state(key, json.dumps(known, sort_keys=True))
        out[int(webinar_id)] = known
    return out


def sweep_webinars(site: Any, webinarjam: Any, store: Store, policy: Any, today: date, now: datetime, *,
                   dry_run: bool = False) -> dict[str, Any]:
    """Sessions past the 30-day rule with registrants left: listed, and (unless ``dry_run``) a
    deletion task opened for each (once: the same session finds the same task)."""
    if webinarjam is None:
        return {"configured": False, "sessions": 0, "due": []}
    sessions = record_sessions(site, webinarjam, store, now)
    rule = policy.rule("webinars")
    due: list[dict[str, Any]] = []
    total = 0
    for webinar_id, known in sessions.items():
        last: dict[int, date] = {}
        for s in known:
            day = _session_day(s["date"])
            if day is not None:
                total += 1
                last[int(s["schedule"])] = max(day, last.get(int(s["schedule"]), day))
        for schedule, ended in sorted(last.items()):
            delete_on = policy.webinar_delete_on(ended)
            if today <= delete_on:
                continue
            registrants = sum(1 for r in webinarjam.registrants(webinar_id, schedule_id=schedule))
            if not registrants:
                continue
            item = {"webinar_id": webinar_id, "schedule": schedule, "ended": ended.isoformat(),
                    "delete_by": delete_on.isoformat(), "registrants": registrants, "task_id": None}
            if not dry_run:
                item["task_id"], _ = store.add_task(NewTask(
                    site=site.name, system="webinarjam", rule="webinars",
                    what=f"Delete the {registrants} registrants of webinar {webinar_id}, session {schedule} "
                         f"(ended {ended.isoformat()}) in WebinarJam (Registrants → select → delete)",
                    why=rule.explain(None), due_at=datetime.combine(delete_on, time(0), timezone.utc),
                    dedupe_key=f"webinarjam-retention:{webinar_id}:{schedule}:{ended.isoformat()}",
                    detail={"webinar_id": webinar_id, "schedule": schedule, "registrants": registrants}), now)
            due.append(item)
    if due:
        log.info("webinar sessions past retention", extra={"site": site.name, "due": len(due)})
    return {"configured": True, "sessions": total, "due": due}
