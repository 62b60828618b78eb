"""Reporting and repair: ``status``, ``explain``, ``audit``, ``retry``, ``cancel``."""

from __future__ import annotations

import click

from .. import errors, services
from .common import emit, get_app, site_name
from .main import cli


@cli.command("status")
@click.pass_context
def status_cmd(ctx: click.Context) -> None:
    """The queue, failed steps, and requests near their one-month deadline.

    Exits 1 when a step is in the dead-letter list, a request or a manual task is overdue, or
    a residue scan found a person left behind after an erasure (`wpprivsync residues`).

    \b
    Example:
      wpprivsync status
      wpprivsync status --json | jq .failed
    """
    data = services.status(get_app(ctx), site=ctx.find_root().obj.site_name)

    def human() -> None:
        click.echo(f"wpprivsync {data['version']}: {data['queue']} steps queued, "
                   f"{data['open_requests']} open requests")
        if data["failed"]:
            click.secho(f"{len(data['failed'])} failed steps (retry with `wpprivsync retry ID`):", fg="red")
            for f in data["failed"]:
                click.echo(f"  step {f['step_id']} {f['site']} {f['system']}.{f['action']} "
                           f"after {f['attempts']} attempts: {f['error']}")
        else:
            click.secho("no failed steps", fg="green")
        for r in data["near_deadline"]:
            tag = "OVERDUE" if r["overdue"] else "due"
            click.secho(f"  request {r['id']} ({r['action']}) {tag} {r['due_at']:%Y-%m-%d}",
                        fg="red" if r["overdue"] else "yellow")
        for site, at in data["last_reconcile"].items():
            click.echo(f"{site}: last reconcile {at or 'never'}, last retention sweep "
                       f"{data['last_retention'].get(site) or 'never'}")

        if data["counts"].get("residues_open"):
            click.secho(f"{data['counts']['residues_open']} residue(s) left after erasures "
                        "(see `wpprivsync residues`)", fg="red")
        for t in data["tasks"]:
            click.secho(f"  task {t['id']} ({t['system']}) {'OVERDUE' if t['overdue'] else 'due'} "
                        f"{t['due_at']:%Y-%m-%d}: {t['what']}", fg="red" if t["overdue"] else "yellow")

    emit(ctx, data, human)
    if data["failed"] or any(r["overdue"] for r in data["near_deadline"]) or any(t["overdue"] for t in data["tasks"]) \
            or data["counts"].get("residues_open"):
        ctx.exit(1)


@cli.command("explain")
@click.argument("email")
@click.pass_context
def explain_cmd(ctx: click.Context, email: str) -> None:
    """What each system holds about a person, what erasure would do, and why anything is kept
    (the policy rule and its end date).

    \b
    Example:
      wpprivsync explain ann@example.com
    """
    data = services.explain(get_app(ctx), site_name(ctx), email)

    def human() -> None:
        for s in data["systems"]:
            click.secho(s["system"], bold=True)
            click.echo(f"  holds: {s['holds'] if s['holds'] else 'nothing'}")
            click.echo(f"  on erasure: {s['on_erasure']}")
            if s.get("rule"):
                click.echo(f"  rule: {s['rule']}")
        if data["kept"]:
            click.secho("kept after erasure", bold=True)
            for k in data["kept"]:
                until = f" until {k['until']}" if k["until"] else ""
                click.echo(f"  {k['what']}{until}{' (due now)' if k['due'] else ''}: {k['why']}")
        linked = data.get("linked_records")
        if linked:
            click.secho("linked records", bold=True)
            click.echo(f"  WordPress user {linked['wp_user_id'] or '-'}; ActiveCampaign contacts "
                       f"{', '.join(map(str, linked['contact_ids'])) or '-'}; "
                       f"{len(linked['emails'])} email(s), {sum(not e['current'] for e in linked['emails'])} past")
            click.echo(f"  on erasure: {linked['on_erasure']}")
        if data["consents"]:
            click.secho("newsletter consents (GDPR art. 7(1))", bold=True)
            for c in data["consents"]:
                what = "given" if c["given"] else "withdrawn"
                if c["erased"]:
                    click.echo(f"  {c['at']} {what} (details erased with the person's data)")
                    continue
                wording = f", wording {c['wording_version']}" if c["wording_version"] else ""
                click.echo(f"  {c['at']} {what} via {c['source']}{wording}, email proven by {c['proof'] or 'unknown'}")
        if data["restriction"]["restricted"]:
            click.echo(f"processing restricted (GDPR art. 18) since {data['restriction']['since']}: "
                       "no marketing, no re-subscription")
        click.echo(f"suppression list: {'yes' if data['suppressed'] else 'no'}; "
                   f"{len(data['history'])} audit entries")
        click.echo(data["request_records"])
        r = data["residues"]
        if r["scanned"]:
            click.echo(f"last residue scan {r['last_seen']:%Y-%m-%d %H:%M}: {len(r['open'])} open, "
                       f"{r['retained']} kept by the policy, {r['resolved']} resolved")
            for place in r["open"]:
                click.secho(f"  still there: {place}", fg="red")
        else:
            click.echo("no residue scan yet (one runs after every erasure; `wpprivsync verify EMAIL` any time)")
        for line in data["unmanaged"]:
            click.echo(f"  outside this tool: {line}")

    emit(ctx, data, human)


@cli.command("audit")
@click.argument("email", required=False)
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100000),
              help="Show at most this many entries.")
@click.pass_context
def audit_cmd(ctx: click.Context, email: str | None, limit: int) -> None:
    """The audit log (keyed hashes, never emails), newest first; for one person with EMAIL.

    \b
    Example:
      wpprivsync audit ann@example.com
    """
    rows = services.audit_view(get_app(ctx), email, site=ctx.find_root().obj.site_name, limit=limit)

    def human() -> None:
        if not rows:
            click.echo("no audit entries")
        for a in rows:
            kept = f", kept {a['retained']} until {a['retained_until']}" if a["retained"] else ""
            click.echo(f"{a['at']:%Y-%m-%d %H:%M:%S} {a['site']} {a['system']}.{a['action']}: "
                       f"removed {a['removed']}{kept} — {a['reason']}")

    emit(ctx, rows, human)


@cli.command("retry")
@click.argument("step_id", required=False, type=int)
@click.option("--all-failed", is_flag=True, help="Retry every step in the dead-letter list.")
@click.pass_context
def retry_cmd(ctx: click.Context, step_id: int | None, all_failed: bool) -> None:
    """Put a failed step (or all of them) back in the queue.

    \b
    Example:
      wpprivsync retry 42
      wpprivsync retry --all-failed
    """
    if step_id is None and not all_failed:
        raise errors.ConfigError("give a step id or --all-failed", field="STEP_ID",
                                 hint="see `wpprivsync status` for failed steps")
    count = services.retry(get_app(ctx), step_id, all_failed=all_failed)
    emit(ctx, {"retried": count}, f"{count} step(s) queued again; `wpprivsync sync` or the daemon runs them")


@cli.command("cancel")
@click.argument("request_id", type=int)
@click.pass_context
def cancel_cmd(ctx: click.Context, request_id: int) -> None:
    """Cancel an open request (its email is cleared; the audit keeps its hash).

    \b
    Example:
      wpprivsync cancel 17
    """
    app = get_app(ctx)
    if not app.store.cancel_request(request_id, app.clock()):
        raise errors.ConfigError(f"request {request_id} is not open", field="REQUEST_ID")
    emit(ctx, {"cancelled": request_id}, f"request {request_id} cancelled")
