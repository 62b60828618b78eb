"""Entry point: the ``wpprivsync`` group, global options, and error handling.

Each command lives in its own module under ``wpprivsync.cli`` and is registered here. A
command builds what it needs from ``ctx.obj`` (an ``AppContext``) and calls a service; it
prints with rich, or JSON with ``--json``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from .. import __version__
from ..errors import WpprivsyncError
from ..settings import Settings, load_settings, masked


@dataclass
class AppContext:
    config_path: Path | None
    json_output: bool
    site_name: str | None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    def emit(self, data: Any, human: Any = None) -> None:
        """Print ``data`` as JSON with --json, else call ``human()`` or print it."""
        if self.json_output:
            click.echo(json.dumps(data, indent=2, default=str, sort_keys=True))
        elif callable(human):
            human()
        else:
            click.echo(human if human is not None else data)


def no_color() -> bool:
    """``NO_COLOR`` set to anything but the empty string turns colour off (https://no-color.org);
    rich's consoles read it themselves."""
    return bool(os.environ.get("NO_COLOR"))


def error_as_json(exc: WpprivsyncError) -> str:
    """The error as ``--json`` prints it: ``{"error": {"message", "exit_code", ...}}``."""
    body: dict[str, Any] = {"message": str(exc), "exit_code": exc.exit_code, "type": type(exc).__name__}
    for name in ("field", "hint", "system", "status", "code"):
        value = getattr(exc, name, None)
        if value is not None:
            body[name] = value
    return json.dumps({"error": body}, sort_keys=True)


class Group(click.Group):
    """Turns wpprivsync errors into one clear line (one JSON object with --json) and their
    exit code; no colour when ``NO_COLOR`` is set."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        if no_color():
            extra.setdefault("color", False)
        return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WpprivsyncError as exc:
            if isinstance(ctx.obj, AppContext) and ctx.obj.json_output:
                click.echo(error_as_json(exc))
            else:
                click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wpprivsync")
@click.option("--config", "config_path", type=click.Path(path_type=Path), envvar="WPPRIVSYNC_CONFIG",
              help="TOML settings file (default: ~/.config/wpprivsync/wpprivsync.toml).")
@click.option("--site", "site_name", help="Which configured site to act on (needed when several are configured).")
@click.option("--json", "json_output", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, site_name: str | None, json_output: bool) -> None:
    """Keep a site's privacy policy true in WordPress, WooCommerce and ActiveCampaign.

    \b
    Example:
      wpprivsync --config /etc/wpprivsync/wpprivsync.toml doctor
    """
    ctx.obj = AppContext(config_path=config_path, json_output=json_output, site_name=site_name)


@cli.group()
def config() -> None:
    """Inspect the settings.

    \b
    Example:
      wpprivsync config show
    """


@config.command("show")
@click.pass_obj
def config_show(app: AppContext) -> None:
    """Print the effective settings as TOML (a configuration file the daemon accepts), secrets
    masked; unset keys are shown as comments.

    \b
    Example:
      wpprivsync --config site.toml config show
      wpprivsync --config site.toml config show --json
    """
    data = masked(app.settings)
    app.emit(data, lambda: click.echo(to_toml(data), nl=False))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def to_toml(data: dict[str, Any]) -> str:
    """The settings as TOML: top-level keys, then one ``[[sites]]`` table per site. TOML has
    no null: an unset key becomes a comment."""

    def lines(table: dict[str, Any]) -> list[str]:
        out = []
        for key, value in table.items():
            if key == "sites" and table is data:
                continue
            out.append(f"# {key} (not set)" if value is None else f"{key} = {_toml_value(value)}")
        return out

    parts = ["\n".join(lines(data))]
    for site in data.get("sites", []):
        parts.append("[[sites]]\n" + "\n".join(lines(site)))
    return "\n\n".join(parts) + "\n"


COMMANDS_GROUP = "wpprivsync.commands"


def _register() -> None:
    """Import command modules; each adds its commands to ``cli``. Then add the commands other
    installed distributions offer in the ``wpprivsync.commands`` entry point group (the
    development kit's ``sandbox``); one that fails to load is left out, with a warning, rather
    than breaking every command."""
    import importlib
    import pkgutil
    from importlib.metadata import entry_points

    from .. import cli as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("cmd_"):
            importlib.import_module(f"{package.__name__}.{info.name}")
    for point in entry_points(group=COMMANDS_GROUP):
        if point.name in cli.commands:
            continue
        try:
            command = point.load()
        except Exception as exc:  # noqa: BLE001 — a broken add-on must not break the CLI
            click.echo(f"warning: command {point.name!r} from {point.value} cannot be loaded: {exc}", err=True)
            continue
        if isinstance(command, click.Command):
            cli.add_command(command, point.name)


_register()


def main() -> None:
    cli(prog_name="wpprivsync")
