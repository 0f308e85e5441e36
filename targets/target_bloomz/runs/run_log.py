"""Import runs: the record of each run (options, counts, status) and the readable summaries of it."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

import duckdb

from target_bloomz import store
from target_bloomz.mapping import Mapping
from target_bloomz.store.locks import TakenOver


def start(
    con: duckdb.DuckDBPyConnection,
    mapping: Mapping,
    *,
    dry_run: bool,
    complete_streams: list[str],
    record_counts: dict[str, int],
    singer_state: dict[str, Any] | None,
    signup_url: str,
) -> int:
    """Record a new run (status planned) with what it received; return its id.

    ``signup_url`` is kept with the run so an approval of the held run invites with the same link.
    """
    row = con.execute("SELECT coalesce(max(id), 0) + 1 FROM runs").fetchone()
    run_id = int(row[0]) if row else 1
    scope = con.execute(
        "SELECT coalesce(list(DISTINCT community_key ORDER BY community_key), []), "
        "coalesce(list(school_id ORDER BY school_id), []) FROM map_schools"
    ).fetchone()
    options = {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(mapping.options).items()
    }
    con.execute(
        """INSERT INTO runs (id, source, scope, school_ids, mapping_file, options, dry_run, status,
               complete_streams, record_counts, singer_state, signup_url, started_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, 'planned', ?, ?, ?, ?, now())""",
        [
            run_id,
            mapping.source,
            scope[0] if scope else [],
            scope[1] if scope else [],
            str(mapping.path),
            json.dumps(options),
            dry_run,
            sorted(complete_streams),
            json.dumps(record_counts),
            json.dumps(singer_state) if singer_state is not None else None,
            signup_url,
        ],
    )
    return run_id


def add_issue(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    severity: str,
    stream: str,
    key: str | None,
    message: str,
    *,
    communities: list[str] | None = None,
) -> None:
    """Record one error or warning of a run; ``communities`` None: it concerns every community of the run.

    Issues about a record get their communities from issue_scope.resolve at the end of the plan.
    """
    con.execute(
        "INSERT INTO run_issues (run_id, severity, stream, record_key, message, communities) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [run_id, severity, stream, key, message, communities],
    )


def note_start(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    taken: list[TakenOver],
    *,
    pulled_complete: list[str],
    cut_short: dict[str, int | None],
) -> None:
    """Remember what the run planned against, say which stale locks it took over and which streams were
    cut short."""
    con.execute(
        "UPDATE runs SET planned_at_change = ?, pulled_complete = ? WHERE id = ?",
        [store.change_counter(con), pulled_complete, run_id],
    )
    # This run holds the lock of its communities, so an earlier run of them still "planned" died mid-way.
    con.execute(
        """UPDATE runs SET status = 'failed', finished_at = now(),
               error = 'the import stopped before it finished (process killed?): nothing of it was applied'
           WHERE status = 'planned' AND id <> $run
             AND len(list_intersect(scope, (SELECT scope FROM runs WHERE id = $run))) > 0""",
        {"run": run_id},
    )
    for lock in taken:
        add_issue(con, run_id, "warning", "locks", lock.scope, lock.message(), communities=[lock.scope])
        print(f"Run {run_id}: {lock.message()}", file=sys.stderr, flush=True)
    for stream, completed_run in sorted(cut_short.items()):
        message = f"did not close complete; removals judged from the mirror as of run {completed_run}"
        add_issue(con, run_id, "warning", stream, None, message)
        print(f"Run {run_id}: {stream} {message}", file=sys.stderr, flush=True)


def save_counts(con: duckdb.DuckDBPyConnection, run_id: int, counts: dict[str, dict[str, int]]) -> None:
    """Store the plan's counts per entity and action with the run."""
    con.execute("UPDATE runs SET counts = ? WHERE id = ?", [json.dumps(counts), run_id])


def finish(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    status: str,
    *,
    error: str | None = None,
    reason: str | None = None,
) -> None:
    """Set the final status of a run that is not applied (dry_run, failed); apply marks applied runs.

    ``reason`` is what the status says after its name ("Failed: <reason>"); ``error`` is listed as an error.
    """
    con.execute(
        "UPDATE runs SET status = ?, error = ?, status_reason = ?, finished_at = now() WHERE id = ?",
        [status, error, reason, run_id],
    )


def contact_field_values(
    con: duckdb.DuckDBPyConnection, mapping: Mapping
) -> list[tuple[str, str | None, int, bool]]:
    """(field, value, links, imported?) for both contact fields, from the staged student_contacts."""
    rows = con.execute(
        """SELECT 'relationship' AS field, relationship AS value, count(*) FROM stg_student_contacts GROUP
               BY ALL
           UNION ALL
           SELECT 'type', type, count(*) FROM stg_student_contacts GROUP BY ALL
           ORDER BY field, 3 DESC, value"""
    ).fetchall()
    return [
        (field, value, n, field == mapping.contact_field and mapping.imports_contact({field: value}))
        for field, value, n in rows
    ]


def summary_table(counts: dict[str, dict[str, int]]) -> str:
    """The plan's counts as a small text table: one line per entity, one column per action."""
    actions = ["create", "update", "reactivate", "archive", "remove", "skip"]
    lines = [f"{'entity':<18}" + "".join(f"{a:>11}" for a in actions)]
    for entity in ("community", "class", "person", "community_member", "class_member", "student_contact"):
        per = counts.get(entity, {})
        lines.append(f"{entity:<18}" + "".join(f"{per.get(a, 0):>11}" for a in actions))
    return "\n".join(lines)


def contact_values_table(values: list[tuple[str, str | None, int, bool]], mapping: Mapping) -> str:
    """The values of both contact fields with counts, marking those the mapping imports."""
    lines = [
        f"Contact field values (the mapping imports {mapping.contact_field} in "
        f"{', '.join(mapping.contact_include) or 'nothing'}):"
    ]
    for field, value, n, imported in values:
        mark = "imported" if imported else ""
        lines.append(f"  {field:<13} {value if value is not None else '(empty)':<24} {n:>8}  {mark}")
    return "\n".join(lines)
