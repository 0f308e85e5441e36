"""bloomz-sync commands — People: reinvite, deliver, report, family codes, explain.

Commands that send (reinvite, deliver) read the outbox settings as target-bloomz does, from the same
environment variables Meltano sets for it (TARGET_BLOOMZ_SMTP_HOST, TARGET_BLOOMZ_OUTBOX_DIR, ...).
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Any

import click
import duckdb
from target_bloomz import store
from target_bloomz.control.reinvite import queue_reinvitations
from target_bloomz.outbox import CONFIG_PROPERTIES, DeliverySettings, deliver_pending, invitations
from target_bloomz.report import explain as explaining
from target_bloomz.report import family_codes as codes
from target_bloomz.report import lookup, run_list, status
from target_bloomz.report.render import render_family_code_letters, render_report_page

_KINDS = {"staff": "staff", "parents": "parent", "students": "student"}  # --role value -> people.kind


def _open(ctx: click.Context, *, write: bool = False) -> duckdb.DuckDBPyConnection:
    try:
        return store.connect(ctx.obj["database"], read_only=not write)
    except (store.StoreError, duckdb.Error) as err:
        raise click.ClickException(str(err)) from err


def _delivery(outbox_dir: str | None) -> DeliverySettings:
    """The outbox settings from TARGET_BLOOMZ_* variables (as Meltano passes them to target-bloomz)."""
    config: dict[str, Any] = {}
    for prop in CONFIG_PROPERTIES:
        value = os.environ.get(f"TARGET_BLOOMZ_{prop.name.upper()}")
        if value is None:
            continue
        boolean = "boolean" in prop.to_dict()[prop.name].get("type", [])
        config[prop.name] = value.strip().lower() in ("1", "true", "yes", "on") if boolean else value
    if outbox_dir:
        config["outbox_dir"] = outbox_dir
    return DeliverySettings.from_config(config)


def _community(con: duckdb.DuckDBPyConnection, school: str) -> tuple[str, str]:
    """(key, name) of the community ``school`` names (target_bloomz.lookup: key, name or source school id)."""
    try:
        found = lookup.community(con, school)
    except LookupError as err:
        raise click.ClickException(str(err)) from None
    return found.key, found.name


_outbox_option = click.option(
    "--outbox-dir",
    type=click.Path(file_okay=False),
    help="Folder for .eml files and sms.jsonl when no SMTP server is set "
    "(default TARGET_BLOOMZ_OUTBOX_DIR, else output/outbox).",
)


@click.command()
@click.option("--school", required=True, help="The school community: key, name, or a source school id.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice(["staff", "parents", "students"]),
    help="Only these roles (repeatable); default all three.",
)
@click.option("--invite-from", help='E-mail or source id of the "Invite from" admin.')
@click.option("--signup-url", default=invitations.DEFAULT_SIGNUP_URL, show_default=True)
@_outbox_option
@click.pass_context
def reinvite(
    ctx: click.Context,
    school: str,
    roles: tuple[str, ...],
    invite_from: str | None,
    signup_url: str,
    outbox_dir: str | None,
) -> None:
    """Invite everyone of SCHOOL not yet registered in Bloomz (after a pre-launch import), then deliver."""
    kinds = sorted({_KINDS[r] for r in roles or ("staff", "parents", "students")})
    with _open(ctx, write=True) as con:
        key, name = _community(con, school)
        if invite_from is None:
            invite_from = status.last_invite_from(con, key)
        counts = queue_reinvitations(con, key, kinds, invite_from=invite_from, signup_url=signup_url)
        click.echo(f"{name}: {counts.email} e-mails and {counts.sms} text messages queued")
        report = deliver_pending(con, _delivery(outbox_dir))
    click.echo(f"Outbox: {report}")
    if not report.ok:
        sys.exit(1)


@click.command()
@_outbox_option
@click.pass_context
def deliver(ctx: click.Context, outbox_dir: str | None) -> None:
    """Deliver what the outbox still holds (after a channel was down or a run crashed)."""
    with _open(ctx, write=True) as con:
        report = deliver_pending(con, _delivery(outbox_dir))
    click.echo(f"Outbox: {report}")
    if not report.ok:
        sys.exit(1)


@click.command()
@click.argument("run", type=int)
@click.option("--school", help="Only this school community (key, name or source school id).")
@click.option("--html", "html", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
def report(ctx: click.Context, run: int, school: str | None, html: Path) -> None:
    """Write the import status of RUN as an HTML page (its Bulk Import Status e-mail), one section per
    school community the run imported."""
    with _open(ctx) as con:
        if run_list.run_status(con, run) is None:
            raise click.ClickException(f"no run {run} in {ctx.obj['database']} (bloomz-sync runs lists them)")
        keys = [_community(con, school)[0]] if school is not None else status.run_communities(con, run)
        page = render_report_page(*(status.run_summary(con, run, key) for key in keys or [""]))
    html.write_text(page, encoding="utf-8")
    click.echo(f"wrote {html}")


@click.command(name="family-codes")
@click.option("--school", required=True, help="The school community: key, name, or a source school id.")
@click.option("--format", "fmt", type=click.Choice(["csv", "html"]), default="csv", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="A file (default stdout).")
@click.option("--signup-url", default=invitations.DEFAULT_SIGNUP_URL, show_default=True)
@click.pass_context
def family_codes(ctx: click.Context, school: str, fmt: str, output: Path | None, signup_url: str) -> None:
    """The family codes of SCHOOL's students: a CSV list, or printable letters (one per student)."""
    with _open(ctx) as con:
        key, name = _community(con, school)
        rows = codes.of_community(con, key)
    if fmt == "html":
        text = render_family_code_letters([codes.letter(r) for r in rows], school=name, signup_url=signup_url)
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text, encoding="utf-8")
    else:
        handle = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
        writer = csv.writer(handle)
        fields = ["person_id", "student_id", "first_name", "last_name", "grade", "family_code"]
        writer.writerow(fields)
        writer.writerows([r[f] for f in fields] for r in rows)
        if output:
            handle.close()
    if output is not None:
        click.echo(f"wrote {len(rows)} family codes of {name} to {output}")


@click.command()
@click.argument("person")
@click.pass_context
def explain(ctx: click.Context, person: str) -> None:
    """Why PERSON (person id, source id, <source>:<id> or e-mail) is where they are: sources, rules, runs."""
    with _open(ctx) as con:
        try:
            click.echo(explaining.explain(con, person))
        except LookupError as err:
            raise click.ClickException(str(err)) from None


commands: list[click.Command] = [reinvite, deliver, report, family_codes, explain]
