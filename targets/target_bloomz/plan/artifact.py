"""Held runs keep what they received, so `bloomz-sync approve` can re-plan them against a store that moved.

The staged streams and the mapping's answers (the stg_*, map_* and norm_* temp tables) are copied to a
DuckDB file beside the store, ``<store>.held/run-<id>.duckdb``; approve loads them back as the same temp
tables and plans again. Beside it, ``run-<id>.json`` keeps the Meltano state id of the run (when Meltano
started it), so approve can print the exact ``meltano state set`` line. Approve and discard delete both.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from plugin_runtime import private

_TABLES = (
    "SELECT table_name FROM duckdb_tables() "
    "WHERE temporary AND regexp_matches(table_name, '^(stg|map|norm)_')"
)


def held_file(database: Path, run_id: int) -> Path:
    """Where a held run's staged input is kept."""
    return database.with_name(database.name + ".held") / f"run-{run_id}.duckdb"


def save(
    con: duckdb.DuckDBPyConnection, database: Path, run_id: int, *, meltano_state_id: str | None = None
) -> Path:
    """Copy the run's staged input next to the store, with the run's Meltano state id."""
    path = held_file(database, run_id)
    private.folder(path.parent)
    _meta_file(database, run_id).write_text(json.dumps({"meltano_state_id": meltano_state_id}))
    path.unlink(missing_ok=True)
    tables = [name for (name,) in con.execute(_TABLES).fetchall()]
    con.execute(f"ATTACH '{_quoted(path)}' AS held_run")
    try:
        for name in tables:
            con.execute(f"CREATE TABLE held_run.{name} AS SELECT * FROM temp.{name}")
    finally:
        con.execute("DETACH held_run")
    private.protect(path)
    return path


def load(con: duckdb.DuckDBPyConnection, database: Path, run_id: int) -> None:
    """Bring a held run's staged input back as temp tables."""
    path = held_file(database, run_id)
    if not path.exists():
        raise FileNotFoundError(f"the staged input of held run {run_id} is missing: {path}")
    con.execute(f"ATTACH '{_quoted(path)}' AS held_run (READ_ONLY)")
    try:
        names = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'held_run'"
        ).fetchall()
        for (name,) in names:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM held_run.{name}")
    finally:
        con.execute("DETACH held_run")


def meltano_state_id(database: Path, run_id: int) -> str | None:
    """The Meltano state id of a held run; None when Meltano did not start it (or it was held before)."""
    try:
        return json.loads(_meta_file(database, run_id).read_text()).get("meltano_state_id")
    except (OSError, ValueError, AttributeError):
        return None


def drop(database: Path, run_id: int) -> None:
    """Forget a held run's staged input."""
    held_file(database, run_id).unlink(missing_ok=True)
    _meta_file(database, run_id).unlink(missing_ok=True)


def _meta_file(database: Path, run_id: int) -> Path:
    return held_file(database, run_id).with_suffix(".json")


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
