"""Access and portability (GDPR art. 15 and 20): one archive with everything every system
holds about a person — every WordPress exporter's groups (core, WooCommerce, Thrive, any
other plugin) and the ActiveCampaign contact with its lists, field values and tags — as JSON
for machines and as a readable HTML page for the person."""

from __future__ import annotations

import html
import json
import os
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import __version__
from .. import errors
from ..clients.protocols import ActiveCampaignApi, WordPressApi
from ..store.api import Person


def webinar_registrations(email: str, webinarjam: Any, site: Any) -> list[dict[str, Any]]:
    """The person's WebinarJam registrations in the site's webinars (``registrants`` +
    ``search``, exact email match)."""
    if webinarjam is None:
        return []
    out = []
    for webinar_id in getattr(site, "webinarjam_webinar_ids", ()):
        for reg in webinarjam.find_registrations(int(webinar_id), email):
            out.append({"webinar_id": reg.webinar_id, "lead_id": reg.lead_id, **reg.fields})
    return out


def linked_contacts(email: str, activecampaign: ActiveCampaignApi, person: Person | None) -> list[dict[str, Any]]:
    """The details of every ActiveCampaign contact linked to the person (by id, no look-up);
    a look-up by email only when none is linked or every linked one is gone."""
    out = []
    for contact_id in (person.contact_ids if person else []):
        try:
            out.append(activecampaign.contact_details(contact_id))
        except errors.NotFound:
            continue
    if not out:
        contact = activecampaign.find_contact(email)
        if contact is not None:
            out.append(activecampaign.contact_details(contact.id))
    return out


def linked_records(person: Person | None) -> dict[str, Any] | None:
    """What the tool itself keeps about the person (their own data: the emails in plain)."""
    if person is None:
        return None
    return {"wordpress_user_id": person.wp_user_id, "activecampaign_contact_ids": person.contact_ids,
            "names": {"first_name": person.first_name, "last_name": person.last_name},
            "emails": [{"email": e.email, "current": e.current, "proven_by": e.proof or None,
                        "learned_from": e.source, "since": e.first_seen_at.isoformat(),
                        "activecampaign_contact_id": e.contact_id} for e in person.emails]}


def collect(email: str, wordpress: WordPressApi, activecampaign: ActiveCampaignApi, *, site: Any,
            now: datetime, webinarjam: Any = None, person: Person | None = None,
            consents: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    wp = wordpress.export(email)
    groups = wp.get("groups", {}) if isinstance(wp, dict) else {}
    contacts = linked_contacts(email, activecampaign, person)
    ac = contacts[0] if contacts else None
    webinars = webinar_registrations(email, webinarjam, site)
    items = sum(len(g.get("items", [])) for g in groups.values())
    summary = {
        "wordpress_groups": len(groups),
        "wordpress_items": items,
        "activecampaign_contact": ac is not None,
        "activecampaign_contacts": len(contacts),
        "past_emails": sum(1 for e in (person.emails if person else ()) if not e.current),
        "activecampaign_lists": len(ac.get("lists", [])) if ac else 0,
        "activecampaign_fields": len(ac.get("fields", [])) if ac else 0,
        "activecampaign_tags": len(ac.get("tags", [])) if ac else 0,
        "webinarjam_registrations": len(webinars),
        "consent_records": len(consents or []),
    }
    return {
        "format": "wpprivsync-export/1",
        "generated_at": now.isoformat(),
        "generator": f"wpprivsync {__version__}",
        "site": {"name": site.name, "wordpress_url": str(site.wordpress_url)},
        "subject": {"email": email},
        "wordpress": {"groups": groups},
        "activecampaign": ac,
        "activecampaign_other_contacts": contacts[1:],
        "linked_records": linked_records(person),
        "webinarjam": {"registrations": webinars},
        # proof of consent (GDPR art. 7(1)): every newsletter consent given or withdrawn
        "consents": consents or [],
        "summary": summary,
    }


def core_export_items(email: str, activecampaign: ActiveCampaignApi, webinarjam: Any, site: Any) -> list[dict[str, Any]]:
    """The ActiveCampaign contact (lists, fields, tags) and WebinarJam registrations as items
    of core's exporter format ({group_id, group_label, item_id, data: [{name, value}]})."""
    items: list[dict[str, Any]] = []
    contact = activecampaign.find_contact(email)
    if contact is not None:
        ac = activecampaign.contact_details(contact.id)
        label = "Newsletter (ActiveCampaign)"
        data = [{"name": k, "value": "" if v is None else str(v)} for k, v in (ac.get("contact") or {}).items()]
        for entry in ac.get("lists", []):
            status = {1: "subscribed", 2: "unsubscribed"}.get(int(entry.get("status", 0) or 0), str(entry.get("status")))
            data.append({"name": f"List: {entry.get('name') or entry.get('list')}", "value": status})
        for value in ac.get("fields", []):
            data.append({"name": f"Field: {value.get('title') or value.get('field')}",
                         "value": "" if value.get("value") is None else str(value.get("value"))})
        tags = [str(t.get("tag")) for t in ac.get("tags", [])]
        if tags:
            data.append({"name": "Tags", "value": ", ".join(tags)})
        items.append({"group_id": "wpprivsync-activecampaign", "group_label": label,
                      "item_id": f"activecampaign-contact-{contact.id}", "data": data})
    for reg in webinar_registrations(email, webinarjam, site):
        items.append({"group_id": "wpprivsync-webinarjam", "group_label": "Webinars (WebinarJam)",
                      "item_id": f"webinarjam-{reg['webinar_id']}-{reg['lead_id']}",
                      "data": [{"name": k, "value": "" if v is None else str(v)} for k, v in reg.items()]})
    return items


def write_archive(data: dict[str, Any], path: Path) -> Path:
    """Write the ZIP atomically with owner-only permissions; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("export.json", json.dumps(data, indent=2, ensure_ascii=False, default=str))
        zf.writestr("export.html", render_html(data))
        zf.writestr("README.txt", _README)
    os.replace(tmp, path)
    return path


_README = """This archive holds a copy of the personal data kept about you.
export.html  - the same data as a page you can open in any browser
export.json  - the same data in a machine-readable form (GDPR art. 20, data portability)
"""


def _e(value: Any) -> str:
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return html.escape("" if value is None else str(value))


def render_html(data: dict[str, Any]) -> str:
    out = [
        "<!doctype html><html lang=en><meta charset=utf-8>",
        f"<title>Your data at {_e(data['site']['name'])}</title>",
        "<style>body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}th,td{border:1px solid #ccc;"
        "padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f4f4f4;width:30%}</style>",
        f"<h1>Your data at {_e(data['site']['name'])}</h1>",
        f"<p>Prepared {_e(data['generated_at'])} for {_e(data['subject']['email'])} "
        f"from {_e(data['site']['wordpress_url'])}.</p>",
        "<h2>Website (WordPress, shop, comments, references, leads)</h2>",
    ]
    groups = data["wordpress"]["groups"]
    if not groups:
        out.append("<p>No data found.</p>")
    for gid, group in groups.items():
        out.append(f"<h3>{_e(group.get('label') or gid)}</h3>")
        for item in group.get("items", []):
            out.append(f"<table><caption>{_e(item.get('item_id', ''))}</caption>")
            for pair in item.get("data", []):
                out.append(f"<tr><th>{_e(pair.get('name'))}</th><td>{_e(pair.get('value'))}</td></tr>")
            out.append("</table>")
    out.append("<h2>Newsletter (ActiveCampaign)</h2>")
    ac = data.get("activecampaign")
    if not ac:
        out.append("<p>No newsletter contact found.</p>")
    else:
        out.append("<table>")
        for key, value in (ac.get("contact") or {}).items():
            out.append(f"<tr><th>{_e(key)}</th><td>{_e(value)}</td></tr>")
        out.append("</table><h3>Lists</h3><table><tr><th>list</th><td>status</td></tr>")
        for entry in ac.get("lists", []):
            status = {1: "subscribed", 2: "unsubscribed"}.get(int(entry.get("status", 0) or 0), entry.get("status"))
            out.append(f"<tr><th>{_e(entry.get('name') or entry.get('list'))}</th><td>{_e(status)}</td></tr>")
        out.append("</table><h3>Fields</h3><table>")
        for value in ac.get("fields", []):
            out.append(f"<tr><th>{_e(value.get('title') or value.get('field'))}</th><td>{_e(value.get('value'))}</td></tr>")
        out.append("</table><h3>Tags</h3><ul>")
        out.extend(f"<li>{_e(t.get('tag'))}</li>" for t in ac.get("tags", []))
        out.append("</ul>")
    for other in data.get("activecampaign_other_contacts") or []:
        out.append("<h3>Another newsletter contact linked to you</h3><table>")
        for key, value in (other.get("contact") or {}).items():
            out.append(f"<tr><th>{_e(key)}</th><td>{_e(value)}</td></tr>")
        out.append("</table>")
    linked = data.get("linked_records")
    if linked:
        out.append("<h2>What wpprivsync links to you</h2><table>")
        out.append(f"<tr><th>WordPress user id</th><td>{_e(linked.get('wordpress_user_id'))}</td></tr>")
        out.append(f"<tr><th>ActiveCampaign contact ids</th><td>{_e(linked.get('activecampaign_contact_ids'))}</td></tr>")
        for e in linked.get("emails", []):
            state = "current" if e.get("current") else "earlier"
            out.append(f"<tr><th>Email ({_e(state)})</th><td>{_e(e.get('email'))}, since {_e(e.get('since'))}"
                       f"{', proven by ' + _e(e.get('proven_by')) if e.get('proven_by') else ''}</td></tr>")
        out.append("</table>")
    out.append("<h2>Webinars (WebinarJam)</h2>")
    regs = (data.get("webinarjam") or {}).get("registrations") or []
    if not regs:
        out.append("<p>No webinar registrations found.</p>")
    for reg in regs:
        out.append(f"<table><caption>{_e(reg.get('webinar') or reg.get('webinar_id'))}</caption>")
        for key, value in reg.items():
            out.append(f"<tr><th>{_e(key)}</th><td>{_e(value)}</td></tr>")
        out.append("</table>")
    out.append("<h2>Newsletter consents</h2>")
    consents = data.get("consents") or []
    if not consents:
        out.append("<p>No newsletter consent recorded.</p>")
    else:
        out.append("<table><tr><th>when</th><td>consent, where, wording shown, how your email was proven</td></tr>")
        for c in consents:
            what = "given" if c.get("given") else "withdrawn"
            wording = f"“{c['wording']}” (version {c.get('wording_version')})" if c.get("wording") else \
                (f"version {c['wording_version']}" if c.get("wording_version") else "")
            out.append(f"<tr><th>{_e(c.get('at'))}</th><td>{_e(what)}; {_e(c.get('source') or '')}; {_e(wording)}; "
                       f"{_e(c.get('proof') or '')}</td></tr>")
        out.append("</table>")
    out.append("</html>")
    return "\n".join(out)


def consent_history(store: Any, policy: Any, site: str, digest: str) -> list[dict[str, Any]]:
    """Every newsletter consent the person gave or withdrew (GDPR art. 7(1)), oldest first, with
    the wording shown quoted from the policy's [consent.wording] when its version is known."""
    wording = getattr(policy, "consent_wording", {}) or {}
    return [{"at": c.at.isoformat(), "given": c.given, "source": c.source, "wording_version": c.wording,
             "wording": wording.get(c.wording) if c.wording else None, "proof": c.proof,
             "erased": c.erased_at is not None} for c in store.consents(site, digest)]
