"""bloomz-sync commands — The store and its import runs: status, runs, plan, export."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import click
import duckdb
from target_bloomz import store
from target_bloomz.outbox import status_emails
from target_bloomz.report.render import render_status_text
from target_bloomz.store import locks


def _open(ctx: click.Context) -> duckdb.DuckDBPyConnection:
    try:
        return store.connect(ctx.obj["database"], read_only=True)
    except (store.StoreError, duckdb.Error) as err:
        if locks.is_store_busy(err):  # an import has the store open: say which, not DuckDB's lock error
            raise click.ClickException(locks.busy_message(Path(ctx.obj["database"]))) from None
        raise click.ClickException(str(err)) from err


def _rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _loads(value: str | None) -> Any:
    return json.loads(value) if value else None


_LAST_RUNS = f"""
SELECT c.key AS community, c.name, r.id AS run, {status_emails.RUN_STATUS} AS status, r.dry_run, r.started_at,
    r.finished_at, r.options, r.counts, r.error
FROM communities c
LEFT JOIN runs r ON r.id = (SELECT max(id) FROM runs WHERE list_contains(scope, c.key) AND NOT dry_run)
ORDER BY c.key
"""


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--issues",
    "max_issues",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Errors and warnings listed per school in text; 0 lists them all (json always has all).",
)
@click.pass_context
def status(ctx: click.Context, fmt: str, max_issues: int) -> None:
    """The last import of each school community ("Last Import Status"), as its status e-mail says it."""
    with _open(ctx) as con:
        rows = _rows(con, _LAST_RUNS)
        texts = {
            row["community"]: render_status_text(
                status_emails.run_summary(con, row["run"], row["community"]), max_issues=max_issues or None
            )
            for row in rows
            if row["run"] is not None
        }
        for row in rows:
            row["options"], row["counts"] = _loads(row["options"]), _loads(row["counts"])
            # the school's own errors and warnings and the run-level ones, as its status e-mail lists them
            issues = _rows(
                con,
                status_emails.ISSUES_OF_COMMUNITY + " ORDER BY severity, stream, record_key",
                {"run": row["run"], "key": row["community"]},
            )
            row["errors"] = sum(issue["severity"] == "error" for issue in issues)
            row["warnings"] = len(issues) - row["errors"]
            row["issues"] = issues
    if fmt == "json":
        click.echo(json.dumps(rows, default=str, indent=2))
        return
    if not rows:
        click.echo("No school community imported yet.")
    for row in rows:
        click.echo(f"Last Import Status of {row['name']} ({row['community']})")
        click.echo(texts.get(row["community"], "  no import yet\n"))


@click.command(name="runs")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def runs_command(ctx: click.Context, fmt: str) -> None:
    """Every import run, newest first."""
    with _open(ctx) as con:
        rows = _rows(
            con,
            f"""SELECT id, {status_emails.RUN_STATUS} AS status, dry_run, source, scope, started_at,
                   finished_at, mapping_file, complete_streams,
                   (SELECT count(*) FROM plan_rows p WHERE p.run_id = r.id AND p.action <> 'skip') AS changes,
                   (SELECT count(*) FROM run_issues i WHERE i.run_id = r.id) AS issues
               FROM runs r ORDER BY id DESC""",
        )
    if fmt == "json":
        click.echo(json.dumps(rows, default=str, indent=2))
        return
    click.echo(f"{'run':>5}  {'status':<10} {'started':<19}  {'changes':>8} {'issues':>7}  scope")
    for row in rows:
        click.echo(
            f"{row['id']:>5}  {row['status']:<10} {row['started_at']:%Y-%m-%d %H:%M:%S}  {row['changes']:>8}"
            f" {row['issues']:>7}  {', '.join(row['scope'] or [])}"
        )


@click.command(name="plan")
@click.argument("run", type=int)
@click.option("--entity", help="Only rows of this entity (community, class, person, community_member, ...).")
@click.option("--action", help="Only rows with this action (create, update, skip, ...).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def plan_command(ctx: click.Context, run: int, entity: str | None, action: str | None, fmt: str) -> None:
    """The saved plan of RUN: what it changes, from which source record, by which rule; and its issues."""
    with _open(ctx) as con:
        found = _rows(con, "SELECT id, status, counts FROM runs WHERE id = ?", [run])
        if not found:
            raise click.ClickException(f"no run {run} in {ctx.obj['database']} (bloomz-sync runs lists them)")
        rows = _rows(
            con,
            """SELECT seq, entity, action, target_id, target, source_stream, source_id, rule, reason,
                   before, after
               FROM plan_rows WHERE run_id = ? AND (?::VARCHAR IS NULL OR entity = ?)
               AND (?::VARCHAR IS NULL OR action = ?) ORDER BY seq""",
            [run, entity, entity, action, action],
        )
        issues = _rows(
            con,
            "SELECT severity, stream, record_key, message FROM run_issues WHERE run_id = ? ORDER BY ALL",
            [run],
        )
    if fmt == "json":
        for row in rows:
            row["before"], row["after"] = _loads(row["before"]), _loads(row["after"])
        click.echo(
            json.dumps({"run": run, "status": found[0]["status"], "rows": rows, "issues": issues}, indent=2)
        )
        return
    click.echo(f"Run {run} ({found[0]['status']}): {len(rows)} plan rows")
    for row in rows:
        why = "; ".join(x for x in (row["rule"], row["reason"]) if x)
        click.echo(
            f"  {row['action']:<10} {row['entity']:<16} {row['target']}  ← {row['source_stream']} "
            f"{row['source_id']}  ({why})"
        )
    for issue in issues:
        # an issue about a whole stream (no record) names the stream alone
        where = " ".join(str(part) for part in (issue["stream"] or "run", issue["record_key"]) if part)
        click.echo(f"  {issue['severity']}: {where}: {issue['message']}")


_EXPORT_QUERIES = {
    "communities": """
        SELECT c.id, c.key, c.name, c.source,
            (SELECT coalesce(list(school_id ORDER BY school_id), []) FROM community_sources s
             WHERE s.community_id = c.id) AS school_ids,
            (SELECT coalesce(list({'person_id': m.person_id, 'kind': p.kind, 'role': m.role,
                                   'role_set_by_hand': m.role_set_by_hand, 'origin': m.origin}
                                  ORDER BY m.person_id), [])
             FROM community_members m JOIN people p ON p.id = m.person_id WHERE m.community_id = c.id) AS
                 members
        FROM communities c ORDER BY c.id""",
    "classes": """
        SELECT cl.id, c.key AS community, cl.name, cl.status, cl.name_edited, cl.source, cl.section_id,
            (SELECT coalesce(list({'person_id': m.person_id, 'kind': p.kind, 'role': m.role, 'origin':
                m.origin}
                                  ORDER BY m.person_id), [])
             FROM class_members m JOIN people p ON p.id = m.person_id WHERE m.class_id = cl.id) AS members
        FROM classes cl JOIN communities c ON c.id = cl.community_id ORDER BY cl.id""",
    "people": """
        SELECT p.id, p.kind, p.first_name, p.middle_name, p.last_name, p.preferred_first_name, p.grade,
            p.title,
            p.email, p.phone, p.student_id, p.student_id_field, p.registered, p.family_code,
            (SELECT coalesce(list({'source': s.source, 'id': s.source_id} ORDER BY s.source, s.source_id), [])
             FROM person_sources s WHERE s.person_id = p.id) AS source_ids,
            (SELECT coalesce(list({'person_id': sc.contact_id, 'relationship': sc.relationship, 'type':
                sc.type}
                                  ORDER BY sc.contact_id), [])
             FROM student_contacts sc WHERE sc.student_id = p.id) AS contacts
        FROM people p ORDER BY p.id""",
}

# CSV is flat: one file per table, memberships in their own files.
_CSV_QUERIES = {
    "communities": "SELECT id, key, name, source, school_ids FROM ({communities})",
    "community_members": "SELECT id AS community_id, key AS community, unnest(members, recursive := true) "
    "FROM ({communities})",
    "classes": "SELECT id, community, name, status, name_edited, source, section_id FROM ({classes})",
    "class_members": "SELECT id AS class_id, unnest(members, recursive := true) FROM ({classes})",
    "people": "SELECT * EXCLUDE (source_ids, contacts), "
    "array_to_string(list_transform(source_ids, lambda s: s.source || ':' || s.id), ' ') AS source_ids "
    "FROM ({people})",
    "student_contacts": "SELECT id AS student_id, unnest(contacts, recursive := true) FROM ({people})",
}


@click.command()
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    help="json: a file (default stdout). csv: a folder for one file per table (required).",
)
@click.pass_context
def export(ctx: click.Context, fmt: str, output: Path | None) -> None:
    """Everything in the store: communities, classes, people, members and roles (README, "The export")."""
    with _open(ctx) as con:
        if fmt == "json":
            document = {name: _rows(con, sql) for name, sql in _EXPORT_QUERIES.items()}
            text = json.dumps(document, indent=2, default=str)
            if output is None:
                sys.stdout.write(text + "\n")
            else:
                output.write_text(text + "\n")
            return
        if output is None:
            raise click.UsageError("--format csv writes one file per table: give a folder with --output")
        output.mkdir(parents=True, exist_ok=True)
        for name, sql in _CSV_QUERIES.items():
            cursor = con.execute(sql.format(**_EXPORT_QUERIES))
            with (output / f"{name}.csv").open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow([d[0] for d in cursor.description])
                while batch := cursor.fetchmany(10_000):
                    writer.writerows(
                        [" ".join(v) if isinstance(v, list) else v for v in row] for row in batch
                    )
        click.echo(f"wrote {', '.join(f'{n}.csv' for n in _CSV_QUERIES)} to {output}")


commands: list[click.Command] = [status, runs_command, plan_command, export]
