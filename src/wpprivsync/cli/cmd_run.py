"""``run`` (the daemon) and ``sync`` (one pass)."""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .. import services
from .common import emit, get_app
from .main import cli


@cli.command("run")
@click.option("--worker-only", is_flag=True, hidden=True,
              help="Only run due steps (the extra processes `workers` starts).")
@click.pass_context
def run_cmd(ctx: click.Context, worker_only: bool) -> None:
    """Run the daemon: poll events, run steps, heartbeat, nightly reconcile, daily retention.

    Stops cleanly on SIGTERM or Ctrl-C after finishing the steps in flight.

    \b
    Example:
      wpprivsync --config /etc/wpprivsync/wpprivsync.toml run
    """
    from ..daemon import Daemon

    config = ctx.find_root().obj.config_path  # the extra worker processes read the same file
    raise SystemExit(Daemon(get_app(ctx), worker_only=worker_only, config_path=config).run())


@cli.command("sync")
@click.pass_context
def sync_cmd(ctx: click.Context) -> None:
    """One pass: pull every site's events and run every step that is due.

    \b
    Example:
      wpprivsync sync --json
    """
    quiet = ctx.find_root().obj.json_output
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed} steps"),
                  TimeElapsedColumn(), disable=quiet, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("running due steps", total=None)
        summary = services.sync_once(get_app(ctx), on_step=lambda _step, _verdict: bar.advance(task))

    def human() -> None:
        for site, s in summary["sites"].items():
            if "error" in s:
                click.secho(f"{site}: {s['error']}", fg="red")
            else:
                click.echo(f"{site}: {s['events']} events, {s['requests']} new requests")
        st = summary["steps"]
        click.echo(f"steps: {st['done']} done, {st['retrying']} waiting to retry, {st['dead']} failed")

    emit(ctx, summary, human)
    if any("error" in s for s in summary["sites"].values()):
        ctx.exit(1)
