"""``wpprivsync sandbox``: the whole system on this machine with fake people (see
``wpprivsync_devkit.sandbox``). The ``wpprivsync`` CLI finds this command through the
``wpprivsync.commands`` entry point group, so it exists only where the development kit is
installed."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import click


@click.command("sandbox")
@click.option("--exit-after-story", "--story-only", "exit_after_story", is_flag=True,
              help="Play the story, print the results and stop (no waiting for Ctrl-C).")
@click.option("--keep-data", is_flag=True,
              help="Keep the sandbox's files (store, audit log, exports, logs, database) after it stops.")
@click.option("--dir", "state_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the sandbox keeps its files [default: .stack/sandbox in a checkout, else the user "
                   "state directory]. Emptied at start; a non-empty directory that is not a sandbox's is refused.")
@click.option("--profile", type=click.Choice(["current", "legacy", "debian"]), default=None,
              help="WordPress stack: current (WordPress 7.1, WooCommerce 9.9.5 with HPOS, Thrive), legacy "
                   "(WordPress 6.1.9, WooCommerce 7.8.2, Thrive) or debian (Debian's WordPress alone) "
                   "[default: current when ../shared/thirdparty is beside the checkout, else debian].")
@click.option("--woocommerce", "woocommerce_dir", type=click.Path(file_okay=False, path_type=Path),
              default=lambda: os.environ.get("WPPRIVSYNC_WOOCOMMERCE_DIR") or None,
              help="A WooCommerce plugin directory instead of the profile's [default: $WPPRIVSYNC_WOOCOMMERCE_DIR].")
@click.option("--wp-port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port of the local WordPress (0: any free port).")
@click.option("--ac-port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port of the local ActiveCampaign server (0: any free port).")
def sandbox_cmd(exit_after_story: bool, keep_data: bool, state_dir: Path | None, profile: str | None,
                woocommerce_dir: Path | None, wp_port: int, ac_port: int) -> None:
    """Try wpprivsync with no real site: a local WordPress, a local ActiveCampaign server and
    the daemon, seeded with fake people, then a short story (an account deletion, a comment
    removal, an unsubscribe in ActiveCampaign) with what each system did.

    Stays up so the other commands and the admin page can be tried against it (it prints
    how); Ctrl-C stops everything and removes its files (unless --keep-data).

    \b
    Example:
      wpprivsync sandbox
      wpprivsync sandbox --exit-after-story
      wpprivsync sandbox --profile legacy
    """
    from .sandbox import Sandbox, default_state_dir

    def say(line: str) -> None:
        click.echo(line)

    box = Sandbox(state_dir or default_state_dir(), woocommerce_dir=woocommerce_dir, profile=profile, wp_port=wp_port,
                  ac_port=ac_port, out=say)
    stop = threading.Event()
    interrupted = _interrupt_on_signals(stop)
    try:
        try:
            box.start()
            box.seed()
            box.story()
            box.print_next_steps(exit_after_story=exit_after_story)
            if not exit_after_story:
                click.echo("The sandbox stays up; Ctrl-C stops it and cleans up.")
                box.wait(stop)
        except KeyboardInterrupt:
            pass
    finally:
        signal.signal(signal.SIGINT, lambda *_: click.echo("stopping, please wait ...", err=True))
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if interrupted.is_set():
            click.echo("\nstopping: daemon, ActiveCampaign server, WordPress ...")
        box.close(keep_data=keep_data)
        click.echo(f"sandbox stopped; its files are kept in {box.dir}" if keep_data else "sandbox stopped")


def _interrupt_on_signals(stop: threading.Event) -> threading.Event:
    """SIGINT and SIGTERM stop the sandbox: while it waits they set ``stop``; during start-up
    or the story they interrupt it (KeyboardInterrupt), so the clean-up runs either way."""
    interrupted = threading.Event()

    def handle(signum: int, frame: Any) -> None:
        interrupted.set()
        stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return interrupted
