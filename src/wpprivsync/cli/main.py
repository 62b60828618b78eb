"""Entry point: the ``wpprivsync`` group, global options, and error handling.

Each command lives in its own module under ``wpprivsync.cli`` and is registered here. A
command builds what it needs from ``ctx.obj`` (an ``AppContext``) and calls a service; it
prints with rich, or JSON with ``--json``.
"""

from __future__ import annotations

import json
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


class Group(click.Group):
    """Turns wpprivsync errors into one clear line and their exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WpprivsyncError as exc:
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
    """Print the effective settings, secrets masked.

    \b
    Example:
      wpprivsync --config site.toml config show --json
    """
    data = masked(app.settings)

    def human() -> None:
        import tomllib  # noqa: F401  (kept for symmetry with the input format)

        for key, value in data.items():
            if key == "sites":
                continue
            click.echo(f"{key} = {value!r}")
        for site in data["sites"]:
            click.echo(f"\n[[sites]]  # {site['name']}")
            for key, value in site.items():
                click.echo(f"  {key} = {value!r}")

    app.emit(data, human)


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
