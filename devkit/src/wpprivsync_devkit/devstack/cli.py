"""``python -m wpprivsync_devkit.devstack up|down|env|status``: a detached WordPress stack for people
and the sandbox (``scripts/wp-stack`` runs this from the repository root).

``up`` starts the stack in ``--dir`` (default ``.stack/wordpress``) and leaves it running, on a
profile (``--profile legacy|current|debian``; default ``current`` when the third-party archives are
in ``../shared/thirdparty``, else ``debian``) whose parts ``--wordpress`` and ``--woocommerce`` can
replace;
``reset`` puts its database back to the state right after ``up``; ``down`` stops it and
removes the directory; ``env`` prints ``export WPPRIVSYNC_...=`` lines;
``status`` exits 0 when the stack runs, 3 when it does not. All are idempotent.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

import click

from . import profiles
from .processes import StackError
from .wordpress import STATE_FILE, WORDPRESS_ENV, WordPressStack

DEFAULT_DIR = Path(".stack") / "wordpress"
DEFAULT_PLUGIN = Path("wp-plugin") / "wpprivsync"
NOT_RUNNING = 3

_dir_option = click.option("--dir", "stack_dir", type=click.Path(path_type=Path), default=DEFAULT_DIR,
                           show_default=True, help="Directory of the stack.")
# accepted (and ignored) by down/env/status so one set of arguments serves every command
_plugin_option = click.option("--plugin", "plugins", multiple=True, type=click.Path(path_type=Path), hidden=True)


@click.group()
def main() -> None:
    """A real WordPress (system package, private MariaDB, PHP's built-in server) for local use."""


@main.command()
@_dir_option
@click.option("--plugin", "plugins", multiple=True, type=click.Path(path_type=Path),
              help="Plugin directory to link and activate (repeatable). Default: wp-plugin/wpprivsync.")
@click.option("--test-plugins", is_flag=True, help="Also activate every plugin under tests/wp-plugins/.")
@click.option("--profile", "profile_name", type=click.Choice(profiles.NAMES),
              default=lambda: os.environ.get("WPPRIVSYNC_PROFILE") or profiles.default_name(Path.cwd()),
              help="legacy: WordPress 6.1.9 + WooCommerce 7.8.2 (posts) + Thrive; current: WordPress 7.1 + "
                   "WooCommerce 9.9.5 (HPOS) + Thrive; debian: Debian's WordPress alone "
                   "[default: current when ../shared/thirdparty is there, else debian].")
@click.option("--wordpress", type=click.Path(path_type=Path), default=lambda: os.environ.get(WORDPRESS_ENV) or None,
              help=f"WordPress core tree instead of the profile's [default: ${WORDPRESS_ENV}].")
@click.option("--woocommerce", type=click.Path(path_type=Path),
              default=lambda: os.environ.get("WPPRIVSYNC_WOOCOMMERCE_DIR") or None,
              help="WooCommerce plugin directory instead of the profile's [default: $WPPRIVSYNC_WOOCOMMERCE_DIR].")
@click.option("--workers", default=4, show_default=True, help="PHP server workers.")
@click.option("--multisite", is_flag=True,
              help="A multisite network (sub-directories) with a second site at /site2/, the plugins on both.")
def up(stack_dir: Path, plugins: tuple[Path, ...], test_plugins: bool, profile_name: str, wordpress: Path | None,
       woocommerce: Path | None, workers: int, multisite: bool) -> None:
    """Start the stack (or show the one already running).

    Example: scripts/wp-stack up --profile current
             scripts/wp-stack up --multisite"""
    existing = _attach(stack_dir)
    if (existing is not None and existing.running and existing.profile in ("", profile_name)
            and existing.multisite == multisite):
        _describe(existing, started=False)
        return
    if existing is not None and existing.running:
        click.echo(f"stopping the running {existing.profile} stack to start the {profile_name} one", err=True)
    if existing is not None:
        _teardown(existing)
    elif stack_dir.exists() and any(stack_dir.iterdir()):
        raise click.ClickException(f"{stack_dir} exists but holds no stack state; remove it first")
    try:
        profile = profiles.resolve(profile_name, Path.cwd())
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    plugin_dirs = [*profile.plugin_dirs, *(list(plugins) or [DEFAULT_PLUGIN])]
    if test_plugins:
        plugin_dirs += sorted(d for d in Path("tests/wp-plugins").glob("*") if d.is_dir())
    options = profile.stack_options()
    if wordpress:
        options["wordpress_dir"] = wordpress
    if woocommerce:
        options["woocommerce_dir"] = woocommerce
    options["hpos"] = options["hpos"] and options["woocommerce_dir"] is not None
    stack = WordPressStack(stack_dir, plugin_dirs=plugin_dirs, workers=workers, multisite=multisite, **options)
    try:
        stack.start()
        stack.snapshot()
        stack.detach()
    except StackError as exc:
        shutil.rmtree(stack_dir, ignore_errors=True)
        raise click.ClickException(str(exc)) from None
    _describe(stack, started=True)


@main.command()
@_dir_option
@_plugin_option
def down(stack_dir: Path, plugins: tuple[Path, ...]) -> None:
    """Stop the stack and remove its directory."""
    stack = _attach(stack_dir)
    if stack is None:
        click.echo("no WordPress stack here")
        return
    _teardown(stack)
    click.echo("WordPress stack stopped")


@main.command()
@_dir_option
@_plugin_option
def reset(stack_dir: Path, plugins: tuple[Path, ...]) -> None:
    """Put the database back to how `up` left it (users, plugins, options)."""
    stack = _running(stack_dir)
    try:
        stack.restore()
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("WordPress stack: database reset to its state after start-up")


@main.command()
@_dir_option
@_plugin_option
def env(stack_dir: Path, plugins: tuple[Path, ...]) -> None:
    """Print export lines for the running stack (eval "$(scripts/wp-stack env)")."""
    stack = _running(stack_dir)
    for key, value in stack.env().items():
        click.echo(f"export {key}={shlex.quote(value)}")


@main.command()
@_dir_option
@_plugin_option
def status(stack_dir: Path, plugins: tuple[Path, ...]) -> None:
    """Say whether the stack runs (exit 0) or not (exit 3)."""
    stack = _attach(stack_dir)
    if stack is None or not stack.running:
        click.echo("WordPress stack: not running")
        sys.exit(NOT_RUNNING)
    click.echo(f"WordPress stack: running at {stack.url} (php pid {stack.server_pid}, mariadbd pid {stack.db.pid})")


def _attach(stack_dir: Path) -> WordPressStack | None:
    if not (stack_dir / STATE_FILE).exists():
        return None
    try:
        return WordPressStack.attach(stack_dir)
    except StackError as exc:
        raise click.ClickException(str(exc)) from None


def _running(stack_dir: Path) -> WordPressStack:
    stack = _attach(stack_dir)
    if stack is None or not stack.running:
        click.echo("WordPress stack: not running (start it with scripts/wp-stack up)", err=True)
        sys.exit(1)
    return stack


def _teardown(stack: WordPressStack) -> None:
    try:
        stack.stop()
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    shutil.rmtree(stack.root, ignore_errors=True)


def _describe(stack: WordPressStack, *, started: bool) -> None:
    head = f"WordPress stack up in {stack.startup_seconds:.1f} s" if started else "WordPress stack already running"
    lines = [
        f"{head}: {stack.url}",
        f"  profile:      {stack.profile or '-'} (WordPress {stack.wp_version or '?'}"
        + (f", WooCommerce {stack.wc_version} on {stack.order_storage} storage)" if stack.wc_version else ")"),
        f"  admin login:  {stack.url}/wp-login.php  user {stack.admin_user}  password {stack.admin_password}",
        f"  service user: {stack.service_user} (role {stack.service_role})  application password {stack.service_app_password}",
        f"  subscriber:   {stack.subscriber_user}  application password {stack.subscriber_app_password}",
        f"  plugins:      {', '.join(stack.plugins)}",
        *([f"  multisite:    second site {stack.second_site_url} (id {stack.second_site_id})"] if stack.multisite else []),
        f"  files:        {stack.root}",
        '  environment:  eval "$(scripts/wp-stack env)"',
    ]
    lines += [f"  warning: {w}" for w in stack.warnings]
    click.echo("\n".join(lines))
