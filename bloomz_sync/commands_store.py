"""bloomz-sync commands — The store and its import runs: status, runs, plan, export."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click
import duckdb
from target_bloomz import store
from target_bloomz.report import export as exporting
from target_bloomz.report import plan_rows, run_list
from target_bloomz.report.render import render_status_text
from target_bloomz.report.status import last_imports, run_summary
from target_bloomz.store import locks


def _open(ctx: click.Context) -> duckdb.DuckDBPyConnection:
    try:
        return store.connect(ctx.obj["database"], read_only=True)
    except (store.StoreError, duckdb.Error) as err:
        if locks.is_store_busy(err):  # an import has the store open: say which, not DuckDB's lock error
            raise click.ClickException(locks.busy_message(Path(ctx.obj["database"]))) from None
        raise click.ClickException(str(err)) from err


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
        rows = last_imports(con)
        texts = {
            row["community"]: render_status_text(
                run_summary(con, row["run"], row["community"]), max_issues=max_issues or None
            )
            for row in rows
            if row["run"] is not None
        }
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
        rows = run_list.all_runs(con)
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
        status = run_list.run_status(con, run)
        if status is None:
            raise click.ClickException(f"no run {run} in {ctx.obj['database']} (bloomz-sync runs lists them)")
        rows = plan_rows.plan_rows(con, run, entity=entity, action=action)
        issues = plan_rows.plan_issues(con, run)
    if fmt == "json":
        click.echo(json.dumps({"run": run, "status": status, "rows": rows, "issues": issues}, indent=2))
        return
    click.echo(f"Run {run} ({status}): {len(rows)} plan rows")
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
            text = json.dumps(exporting.document(con), indent=2, default=str)
            if output is None:
                sys.stdout.write(text + "\n")
            else:
                output.write_text(text + "\n")
            return
        if output is None:
            raise click.UsageError("--format csv writes one file per table: give a folder with --output")
        output.mkdir(parents=True, exist_ok=True)
        written = []
        for name, columns, batches in exporting.csv_tables(con):
            with (output / f"{name}.csv").open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(columns)
                for batch in batches:
                    writer.writerows(
                        [" ".join(v) if isinstance(v, list) else v for v in row] for row in batch
                    )
            written.append(f"{name}.csv")
        click.echo(f"wrote {', '.join(written)} to {output}")


commands: list[click.Command] = [status, runs_command, plan_command, export]
