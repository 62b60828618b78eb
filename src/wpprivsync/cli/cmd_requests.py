"""Requests for one person: ``erase``, ``comments remove``, ``unsubscribe``, ``export``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .. import services
from ..engine import plan
from .common import emit, get_app, site_name, step_printer
from .main import cli


def _show_request(view: dict[str, Any]) -> None:
    colour = {"done": "green", "open": "yellow", "failed": "red"}.get(view["status"], "white")
    click.secho(f"request {view['id']} ({view['action']}): {view['status']}", fg=colour, bold=True)
    for s in view["steps"]:
        line = f"  {s['system']:<15} {s['action']:<20} {s['status']}"
        if s["last_error"] and s["status"] != "done":
            line += f"  — {s['last_error']}"
        click.echo(line)
        for r in (s["result"] or {}).get("retained", []) or []:
            click.echo(f"      retained: {r.get('kind')} {r.get('id')} until {r.get('until')}")
    if view["retained_until"]:
        click.echo(f"  data kept under legal retention until {view['retained_until']}")
    click.echo(f"  answer due by {view['due_at']:%Y-%m-%d} (GDPR art. 12(3))")


# Exit codes of the manual commands (click's usage error is 2, a settings error is 2 as well):
# 0 done; 1 the request failed; 3 work is left queued for retry (a system refused the
# credentials, is unreachable or down); the daemon finishes it.
EXIT_FAILED = 1
EXIT_PENDING = 3


def _queue_and_run(ctx: click.Context, action: str, email: str, wait: bool) -> None:
    app = get_app(ctx)
    request_id = services.queue_request(app, site_name(ctx), action, email, source="cli")
    view = services.run_request(app, request_id, on_step=step_printer(ctx)) if wait \
        else services.request_view(app, request_id)
    emit(ctx, view, lambda: _show_request(view))
    if view["status"] == "failed":
        ctx.exit(EXIT_FAILED)
    if wait and view["status"] == "open":
        # work not done: say what is pending, and do not exit 0 (issue 13)
        for step in view["steps"]:
            if step["status"] in ("pending", "running", "dead"):
                reason = f": {step['last_error']}" if step.get("last_error") else ""
                click.echo(f"pending: {step['system']} {step['action']} ({step['status']}, "
                           f"{step['attempts']} failed attempts){reason}", err=True)
        ctx.exit(EXIT_PENDING)


@cli.command("erase")
@click.argument("email")
@click.option("--dry-run", is_flag=True, help="Show what each system would erase or keep; change nothing.")
@click.option("--no-wait", is_flag=True, help="Only queue the request for the daemon.")
@click.pass_context
def erase_cmd(ctx: click.Context, email: str, dry_run: bool, no_wait: bool) -> None:
    """Erase a person everywhere: WordPress erasers, ActiveCampaign contact, suppression list.

    Orders under legal retention are kept and reported with their end date.

    \b
    Example:
      wpprivsync erase ann@example.com --dry-run
      wpprivsync erase ann@example.com
    """
    if dry_run:
        data = services.dry_run_erase(get_app(ctx), site_name(ctx), email)

        def human() -> None:
            click.echo("WordPress erasers:")
            for e in data["wordpress"]["erasers"]:
                click.echo(f"  {e.get('name') or e.get('id')}")
            for k, v in data["wordpress"]["would_touch"].items():
                click.echo(f"  would touch {v} {k}")
            account = data["wordpress"].get("account") or {}
            if account.get("reason"):
                click.echo(f"  account: {account['reason']}")
            for r in data["wordpress"]["retained"]:
                click.echo(f"  would keep {r.get('kind')} {r.get('id')} until {r.get('until')}")
            click.echo(f"ActiveCampaign: {data['activecampaign']['would']}")
            click.echo("nothing was changed (dry run)")

        emit(ctx, data, human)
        return
    _queue_and_run(ctx, plan.ERASE, email, not no_wait)


@cli.group("comments")
def comments_group() -> None:
    """Comment removal requests.

    \b
    Example:
      wpprivsync comments remove ann@example.com
    """


@comments_group.command("remove")
@click.argument("email")
@click.option("--no-wait", is_flag=True, help="Only queue the request for the daemon.")
@click.pass_context
def comments_remove_cmd(ctx: click.Context, email: str, no_wait: bool) -> None:
    """Delete every comment of a person (not anonymise), with comment-derived newsletter data.

    \b
    Example:
      wpprivsync comments remove ann@example.com
    """
    _queue_and_run(ctx, plan.REMOVE_COMMENTS, email, not no_wait)


@cli.command("unsubscribe")
@click.argument("email")
@click.option("--no-wait", is_flag=True, help="Only queue the request for the daemon.")
@click.pass_context
def unsubscribe_cmd(ctx: click.Context, email: str, no_wait: bool) -> None:
    """Unsubscribe a person from the newsletter: list status 2, contact deleted, hash suppressed.

    \b
    Example:
      wpprivsync unsubscribe ann@example.com
    """
    _queue_and_run(ctx, plan.UNSUBSCRIBE, email, not no_wait)


@cli.command("export")
@click.argument("email")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the ZIP archive.")
@click.pass_context
def export_cmd(ctx: click.Context, email: str, output: Path) -> None:
    """Export everything every system holds about a person (GDPR art. 15, 20) as one ZIP:
    export.json and a readable export.html.

    \b
    Example:
      wpprivsync export ann@example.com -o ann.zip
    """
    data = services.export_now(get_app(ctx), site_name(ctx), email, output)

    def human() -> None:
        s = data["summary"]
        click.echo(f"wrote {data['path']}")
        click.echo(f"  WordPress: {s['wordpress_items']} items in {s['wordpress_groups']} groups")
        click.echo(f"  ActiveCampaign: {'contact' if s['activecampaign_contact'] else 'no contact'}, "
                   f"{s['activecampaign_lists']} lists, {s['activecampaign_fields']} fields, "
                   f"{s['activecampaign_tags']} tags")

    emit(ctx, data, human)
