"""Manual tasks: ``tasks`` (list) and ``tasks done ID --note …`` / ``tasks waive ID --note …``."""

from __future__ import annotations

import click

from .. import services
from .common import emit, get_app
from .main import cli


@cli.group("tasks", invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Also list closed tasks.")
@click.pass_context
def tasks_cmd(ctx: click.Context, show_all: bool) -> None:
    """What a person must do in systems without an API (WebinarJam deletion, invoices,
    correspondence): what, where, why and by when. Exits 1 when a task is overdue.

    \b
    Example:
      wpprivsync tasks
      wpprivsync tasks done 3 --note "deleted in WebinarJam → Registrants"
    """
    if ctx.invoked_subcommand is not None:
        return
    rows = services.tasks_view(get_app(ctx), site=ctx.find_root().obj.site_name,
                               status=None if show_all else "open")

    def human() -> None:
        if not rows:
            click.secho("no open tasks", fg="green")
        for t in rows:
            tag = "OVERDUE" if t["overdue"] else t["status"]
            click.secho(f"task {t['id']} [{tag}] {t['system']} due {t['due_at']:%Y-%m-%d}: {t['what']}",
                        fg="red" if t["overdue"] else None)
            click.echo(f"    why: {t['why']}")
            if t["note"]:
                click.echo(f"    note: {t['note']}")

    emit(ctx, rows, human)
    if any(t["overdue"] for t in rows):
        ctx.exit(1)


def _close(ctx: click.Context, task_id: int, note: str, waive: bool) -> None:
    data = services.close_task(get_app(ctx), task_id, note, waive=waive)
    t = data["task"]
    emit(ctx, data, f"task {t['id']} {t['status']}" + ("" if data["changed"] else " (already closed; nothing changed)"))


@tasks_cmd.command("done")
@click.argument("task_id", metavar="ID", type=int)
@click.option("--note", required=True, help="What was done (kept in the audit log).")
@click.pass_context
def tasks_done(ctx: click.Context, task_id: int, note: str) -> None:
    """Close a task once a person has done it; its request completes when nothing else is left.

    \b
    Example:
      wpprivsync tasks done 3 --note "deleted 2 registrants in WebinarJam"
    """
    _close(ctx, task_id, note, waive=False)


@tasks_cmd.command("waive")
@click.argument("task_id", metavar="ID", type=int)
@click.option("--note", required=True, help="Why the task is not needed (kept in the audit log).")
@click.pass_context
def tasks_waive(ctx: click.Context, task_id: int, note: str) -> None:
    """Close a task without doing it, with the reason.

    \b
    Example:
      wpprivsync tasks waive 4 --note "no correspondence with this person exists"
    """
    _close(ctx, task_id, note, waive=True)
