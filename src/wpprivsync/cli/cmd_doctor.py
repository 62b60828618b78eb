"""``wpprivsync doctor``: check every configured site and the store."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.markup import escape

from .. import doctor
from .main import AppContext, cli

_STYLE = {doctor.PASS: "bold green", doctor.FAIL: "bold red", doctor.SKIP: "yellow"}


@cli.command("doctor")
@click.option("--json", "json_output", is_flag=True, help="Print the results as JSON (same as wpprivsync --json doctor).")
@click.pass_obj
def doctor_command(app: AppContext, json_output: bool) -> None:
    """Check that each site is ready: WordPress reachable, credentials valid, plugin active,
    service user holds the wpprivsync_sync capability; ActiveCampaign reachable, token valid,
    lists exist; the store writable; the policy loads; at least one
    site is configured. Prints one PASS/FAIL line per check with the reason and
    exits 1 if any check fails (2 if the configuration is invalid).

    \b
    Example:
      wpprivsync doctor
      wpprivsync --site shop doctor --json
    """
    settings = app.settings
    sites = [app.site_name] if app.site_name else None
    results = doctor.run_checks(settings, sites=sites)
    counts = doctor.summary(results)
    failed = counts[doctor.FAIL] + counts[doctor.SKIP]
    if json_output or app.json_output:
        app.json_output = True
        app.emit({"ok": failed == 0, "summary": counts, "checks": [r.as_dict() for r in results]})
    else:
        _print(results, counts)
    if failed:
        sys.exit(1)


def _print(results: list[doctor.CheckResult], counts: dict[str, int]) -> None:
    console = Console(highlight=False, soft_wrap=True)
    if not results:
        console.print("nothing to check")
    for r in results:
        where = f"{r.site}: " if r.site else ""
        console.print(f"[{_STYLE[r.status]}]{r.status.upper():4}[/] {escape(where)}{r.system} {escape(r.name)} "
                      f"— {escape(r.detail)}")
    if counts[doctor.FAIL] or counts[doctor.SKIP]:
        console.print(f"[bold red]{counts[doctor.FAIL]} failed[/], {counts[doctor.SKIP]} skipped, "
                      f"{counts[doctor.PASS]} passed")
    else:
        console.print(f"[bold green]all {counts[doctor.PASS]} checks passed[/]")
