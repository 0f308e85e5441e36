"""A run's saved plan: its rows (what it changes, from which source record, by which rule) and its issues."""

from __future__ import annotations

from typing import Any

import duckdb

from target_bloomz.report.rows import dicts, from_json

# Both filters are optional: NULL matches every entity or action.
_WHERE = """run_id = $run AND ($entity::VARCHAR IS NULL OR entity = $entity)
    AND ($action::VARCHAR IS NULL OR action = $action)"""


def plan_rows(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    *,
    entity: str | None = None,
    action: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The run's plan rows in plan order, ``before`` and ``after`` decoded; at most ``limit`` of them."""
    found = dicts(
        con,
        f"""SELECT seq, entity, action, target_id, target, source_stream, source_id, rule, reason,
                before, after
            FROM plan_rows WHERE {_WHERE} ORDER BY seq LIMIT $limit""",
        {"run": run_id, "entity": entity, "action": action, "limit": limit},
    )
    for row in found:
        row["before"], row["after"] = from_json(row["before"]), from_json(row["after"])
    return found


def count_plan_rows(
    con: duckdb.DuckDBPyConnection, run_id: int, *, entity: str | None = None, action: str | None = None
) -> int:
    """How many of the run's plan rows match the filters (the console shows the first ones only)."""
    row = con.execute(
        f"SELECT count(*) FROM plan_rows WHERE {_WHERE}", {"run": run_id, "entity": entity, "action": action}
    ).fetchone()
    return int(row[0]) if row else 0


def plan_issues(con: duckdb.DuckDBPyConnection, run_id: int) -> list[dict[str, Any]]:
    """Every error and warning of the run, sorted."""
    return dicts(
        con,
        "SELECT severity, stream, record_key, message FROM run_issues WHERE run_id = ? ORDER BY ALL",
        [run_id],
    )
