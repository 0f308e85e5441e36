"""The run's own tables: every step's working tables are DuckDB temp tables of the import's connection."""

from __future__ import annotations

from typing import Any

import duckdb


def table_from_lists(
    con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, tuple[str, list[Any]]]
) -> None:
    """Create a temp table from parallel Python lists: {column: (sql type, values)}."""
    select = ", ".join(f"unnest(${name}::{sql_type}[]) AS {name}" for name, (sql_type, _) in columns.items())
    first = next(iter(columns.values()))[1]
    if not first:
        select = ", ".join(f"NULL::{sql_type} AS {name}" for name, (sql_type, _) in columns.items())
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {select} WHERE false")
        return
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {select}",
        {name: values for name, (_, values) in columns.items()},
    )
