"""Query results as dicts keyed by column name: the shape the CLI prints as JSON and the console renders."""

from __future__ import annotations

import json
from typing import Any

import duckdb


def dicts(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def from_json(value: str | None) -> Any:
    """A JSON column's value (the store keeps options, counts and plan rows' before/after as JSON text)."""
    return json.loads(value) if value else None
