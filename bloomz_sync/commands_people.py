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
from target_bloomz.outbox import (
    CONFIG_PROPERTIES,
    DeliverySettings,
    deliver_pending,
    invitations,
    status_emails,
)
from target_bloomz.report import explain as explaining
from target_bloomz.report import lookup
from target_bloomz.report.render import FamilyCodeLetter, render_family_code_letters, render_report_page

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
            last = status_emails.last_run(con, key)
            row = con.execute("SELECT options->>'invite_from' FROM runs WHERE id = ?", [last]).fetchone()
            invite_from = row[0] if row else None
        con.execute("BEGIN TRANSACTION")
        counts = invitations.queue_reinvitations(
            con, key, kinds, invite_from=invite_from, signup_url=signup_url
        )
        con.execute("COMMIT")
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
        if not con.execute("SELECT 1 FROM runs WHERE id = ?", [run]).fetchone():
            raise click.ClickException(f"no run {run} in {ctx.obj['database']} (bloomz-sync runs lists them)")
        keys = [_community(con, school)[0]] if school is not None else status_emails.run_communities(con, run)
        page = render_report_page(*(status_emails.run_summary(con, run, key) for key in keys or [""]))
    html.write_text(page, encoding="utf-8")
    click.echo(f"wrote {html}")


_CODES = """
SELECT p.id AS person_id, p.student_id, p.first_name, p.last_name, coalesce(p.preferred_first_name,
    p.first_name) AS called, p.grade, p.family_code
FROM people p JOIN community_members m ON m.person_id = p.id
WHERE m.community_id = (SELECT id FROM communities WHERE key = $key) AND p.family_code IS NOT NULL
ORDER BY p.last_name, p.first_name, p.id
"""


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
        cursor = con.execute(_CODES, {"key": key})
        columns = [d[0] for d in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    if fmt == "html":
        letters = [
            FamilyCodeLetter(
                student_name=" ".join(x for x in (r["called"], r["last_name"]) if x),
                code=r["family_code"],
                grade=r["grade"],
            )
            for r in rows
        ]
        text = render_family_code_letters(letters, school=name, signup_url=signup_url)
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
