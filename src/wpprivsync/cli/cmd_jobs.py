"""Site-wide jobs the daemon also runs on a schedule: ``reconcile`` and ``retention``."""

from __future__ import annotations

import click
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..engine.reconcile import reconcile
from ..engine.retention import sweep_exports, sweep_orders
from ..engine.webinars import sweep_webinars
from ..settings import SiteSettings
from .common import emit, get_app
from .main import cli


def _sites(ctx: click.Context) -> list[SiteSettings]:
    app = get_app(ctx)
    chosen = ctx.find_root().obj.site_name
    return [app.site(chosen)] if chosen else app.sites


@cli.command("reconcile")
@click.option("--dry-run", is_flag=True, help="Only count the differences.")
@click.pass_context
def reconcile_cmd(ctx: click.Context, dry_run: bool) -> None:
    """Compare WordPress newsletter consent with ActiveCampaign list status and fix drift in
    bulk (250 contacts per call).

    \b
    Example:
      wpprivsync reconcile --dry-run
    """
    app = get_app(ctx)
    reports = {}
    quiet = ctx.find_root().obj.json_output
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed} read"),
                  TimeElapsedColumn(), disable=quiet, transient=True) as bar:
        for site in _sites(ctx):
            task = bar.add_task(f"{site.name}: reading both sides", total=None)
            c = app.clients(site.name)
            report = reconcile(site, c.wordpress, c.activecampaign, app.store, app.planner(site.name), app.secret,
                               app.clock, dry_run=dry_run, progress=lambda _stage, n: bar.advance(task, n))  # noqa: B023 — used in this iteration
            reports[site.name] = report.as_dict()

    def human() -> None:
        for name, r in reports.items():
            verb = "would" if dry_run else "did"
            click.echo(f"{name}: {r['wordpress_users']} WordPress users, {r['list_members']} list members")
            click.echo(f"  {verb} unsubscribe {r['unsubscribe_in_activecampaign']} in ActiveCampaign, "
                       f"subscribe {r['subscribe_in_activecampaign']}, clear {r['unsubscribe_in_wordpress']} "
                       f"WordPress consents")
            if not dry_run:
                click.echo(f"  {r['import_calls']} bulk import calls, {r['requests_queued']} requests queued")

    emit(ctx, reports, human)


@cli.command("retention")
@click.option("--dry-run", is_flag=True, help="Only list the orders that are due.")
@click.pass_context
def retention_cmd(ctx: click.Context, dry_run: bool) -> None:
    """Anonymise orders whose legal retention has ended (WooCommerce's own anonymiser), open a
    deletion task for every WebinarJam session that ended more than the policy's days ago and
    still has registrants, and delete expired export archives.

    \b
    Example:
      wpprivsync retention --dry-run
    """
    app = get_app(ctx)
    now = app.clock()
    reports = {}
    for site in _sites(ctx):
        reports[site.name] = sweep_orders(site, app.clients(site.name).wordpress, app.store, app.policy, now.date(),
                                          now, dry_run=dry_run).as_dict()
        if not dry_run:
            # WordPress's completed request records: the plain email goes after the evidence period
            reports[site.name]["request_records_scrubbed"] = int(
                app.clients(site.name).wordpress.scrub_requests(app.policy.evidence_days).get("scrubbed", 0))
        reports[site.name]["webinars"] = sweep_webinars(site, app.clients(site.name).webinarjam, app.store,
                                                        app.policy, now.date(), now, dry_run=dry_run)
    exports = 0 if dry_run else sweep_exports(app.settings.export_dir, app.policy.export_ttl_days, now)
    data = {"sites": reports, "exports_deleted": exports}

    def human() -> None:
        for name, r in reports.items():
            if not r["woocommerce"]:
                click.echo(f"{name}: WooCommerce is not active; no orders to sweep")
                continue
            verb = "would anonymise" if dry_run else "anonymised"
            click.echo(f"{name}: {r['checked']} old orders checked, {r['due']} past retention, "
                       f"{verb} {r['due'] if dry_run else r['anonymized']}")
            for o in r["due_orders"][:20] if dry_run else []:
                click.echo(f"  order {o['id']} created {o['created']}, retained until {o['retained_until']}")
            w = r["webinars"]
            if w["configured"]:
                verb = "deletion due (manual task on a real run)" if dry_run else "deletion task opened"
                click.echo(f"{name}: {w['sessions']} webinar sessions known, {len(w['due'])} past the 30-day rule")
                for d in w["due"]:
                    click.echo(f"  webinar {d['webinar_id']} session {d['schedule']} ended {d['ended']}: "
                               f"{d['registrants']} registrants, delete by {d['delete_by']}: {verb}"
                               + (f" (task {d['task_id']})" if d["task_id"] else ""))
        click.echo(f"{exports} expired export archives deleted")

    emit(ctx, data, human)
