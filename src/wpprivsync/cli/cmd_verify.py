"""Proof of erasure: ``verify EMAIL…`` (scan WordPress for people) and ``residues`` (what the
scans after erasures found)."""

from __future__ import annotations

import click

from .. import verification
from ..identity import normalise_email
from .common import emit, get_app, site_name
from .main import cli


@cli.command("verify")
@click.argument("emails", nargs=-1, required=True, metavar="EMAIL...")
@click.pass_context
def verify_cmd(ctx: click.Context, emails: tuple[str, ...]) -> None:
    """Scan every table of the WordPress database for each person (the email in any letter
    case, URL-encoded, and its md5 and sha256 digests) and list where they still are, without
    the values. Rows the policy keeps on purpose (orders under retention, WordPress's request
    record in its evidence period) are listed as kept, with the clause and end date.

    For a person already erased the scan is recorded: places a fix removed show as resolved in
    `wpprivsync residues`. Before an erasure it answers "where does this person live?".
    Exits 0 when nothing is found beyond what the policy keeps, 1 otherwise (also when a table
    could not be read).

    \b
    Example:
      wpprivsync verify ann@example.com
      wpprivsync --json verify ann@example.com ann.old@example.org
    """
    data = verification.verify(get_app(ctx), site_name(ctx), list(emails))

    def human() -> None:
        click.echo(f"{data['site']}: {data['rows_scanned']} rows read in {data['tables_scanned']} tables")
        for email, person in zip(dict.fromkeys(normalise_email(e) for e in emails), data["people"]):
            label = email if not person["erased"] else f"{email} (erased)"
            if person["open"]:
                click.secho(f"{label}: found in {len(person['open'])} place(s)", fg="red", bold=True)
            else:
                click.secho(f"{label}: nothing found beyond what the policy keeps", fg="green")
            for p in person["open"]:
                click.echo(f"  {p['text']}")
            for p in person["retained"]:
                click.echo(f"  kept: {p['text']}")
            if person["recorded"] and person["recorded"]["resolved"]:
                click.secho(f"  {person['recorded']['resolved']} earlier residue(s) now resolved", fg="green")

    emit(ctx, data, human)
    if not data["clean"]:
        ctx.exit(1)


@cli.command("residues")
@click.option("--all", "show_all", is_flag=True, help="Also list retained and resolved places.")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100000),
              help="Show at most this many places.")
@click.pass_context
def residues_cmd(ctx: click.Context, show_all: bool, limit: int) -> None:
    """What the scans after erasures found (keyed hashes and places, never values), newest
    first. Exits 1 while any residue is open.

    \b
    Example:
      wpprivsync residues
      wpprivsync --json residues --all
    """
    rows = verification.residues_view(get_app(ctx), site=ctx.find_root().obj.site_name,
                                      status=None if show_all else "open", limit=limit)

    def human() -> None:
        if not rows:
            click.secho("no open residues", fg="green")
        for r in rows:
            click.secho(f"[{r['status']}] {r['site']} {r['email_hash'][:12]}… {r['text']}"
                        f"{' (request ' + str(r['request_id']) + ')' if r['request_id'] else ''}",
                        fg="red" if r["status"] == "open" else None)

    emit(ctx, rows, human)
    if any(r["status"] == "open" for r in rows):
        ctx.exit(1)
