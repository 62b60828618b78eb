"""``restrict``: restriction of processing (GDPR art. 18) and objection to marketing (art. 21)."""

from __future__ import annotations

import click

from ..engine import plan
from .cmd_requests import _queue_and_run
from .main import cli


@cli.command("restrict")
@click.argument("email")
@click.option("--lift", is_flag=True, help="Lift the restriction (recorded in the audit log).")
@click.option("--no-wait", is_flag=True, help="Only queue the request for the daemon.")
@click.pass_context
def restrict_cmd(ctx: click.Context, email: str, lift: bool, no_wait: bool) -> None:
    """Restrict processing of a person's data (GDPR art. 18): marketing stops (ActiveCampaign
    unsubscribed, contact kept), the WordPress account is flagged, nothing is erased, and no
    new consent re-subscribes the person until the restriction is lifted.

    An objection to marketing (art. 21(2)) is an unsubscribe: use `wpprivsync unsubscribe`.

    \b
    Example:
      wpprivsync restrict ann@example.com
      wpprivsync restrict --lift ann@example.com
    """
    _queue_and_run(ctx, plan.LIFT_RESTRICTION if lift else plan.RESTRICT, email, not no_wait)
