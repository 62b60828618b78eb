"""What every command shares: building the ``App`` once, picking the site, progress output."""

from __future__ import annotations

from typing import Any, Callable

import click

from ..app import App
from ..logs import configure_logging


def get_app(ctx: click.Context) -> App:
    """The ``App`` for this invocation (built on first use, closed when the command ends)."""
    obj = ctx.find_root().obj
    app = getattr(obj, "_app", None)
    if app is None:
        settings = obj.settings
        configure_logging(settings.log_level, json_lines=settings.log_json)
        metrics = None
        if settings.metrics_port:
            from ..metrics import Metrics

            metrics = Metrics()
        app = App(settings, metrics=metrics)
        obj._app = app
        ctx.find_root().call_on_close(app.close)
    return app


def site_name(ctx: click.Context) -> str:
    obj = ctx.find_root().obj
    return get_app(ctx).site(obj.site_name).name


def emit(ctx: click.Context, data: Any, human: Any = None) -> None:
    ctx.find_root().obj.emit(data, human)


def step_printer(ctx: click.Context) -> Callable[[Any, str], None] | None:
    """An ``on_step`` callback that prints one line per finished step (not with --json)."""
    if ctx.find_root().obj.json_output:
        return None

    def show(step: Any, verdict: str) -> None:
        colour = {"done": "green", "retry": "yellow", "dead": "red"}.get(verdict, "white")
        click.secho(f"  {step.system}.{step.action}: {verdict}", fg=colour, err=True)

    return show
