"""A held run's plan, saved as it was shown, with the input it was planned from.

The run's tables (tables.py: ``kept_by_a_saved_plan``: the staged streams, the mirror's merge, the
mapping's answers and the plan's ``p_*`` tables) are copied to a DuckDB file beside the store,
``<store>.held/run-<id>.duckdb``. Approve loads them back: it applies the saved plan as the admin read it
when the store has not changed since, and plans again from the saved input when it has. Beside it,
``run-<id>.json`` keeps the feed and the Meltano state id of the run (when Meltano started it), so approve
records the source's identity and prints the exact ``meltano state set`` line. Approve and discard delete
both.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from plugin_runtime import private
from target_bloomz.contacts.normalize import CHECK_COLUMNS
from target_bloomz.tables import kept_by_a_saved_plan, read_by_apply

# A run held by an older version kept its mirror merge under other names.
_OLD_NAMES = (("stg_mirror_run", "mirror_run"), ("stg_delta_", "mirror_delta_"))


def held_file(database: Path, run_id: int) -> Path:
    """Where a held run's staged input is kept."""
    return database.with_name(database.name + ".held") / f"run-{run_id}.duckdb"


def save(
    con: duckdb.DuckDBPyConnection,
    database: Path,
    run_id: int,
    *,
    feed: str,
    meltano_state_id: str | None = None,
) -> Path:
    """Copy the run's plan and input next to the store, with its feed and Meltano state id."""
    path = held_file(database, run_id)
    private.folder(path.parent)
    meta = {"feed": feed, "meltano_state_id": meltano_state_id}
    _meta_file(database, run_id).write_text(json.dumps(meta))
    path.unlink(missing_ok=True)
    temp = con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    tables = [name for (name,) in temp if kept_by_a_saved_plan(name)]
    con.execute(f"ATTACH '{_quoted(path)}' AS held_run")
    try:
        for name in tables:
            con.execute(f"CREATE TABLE held_run.{name} AS SELECT * FROM temp.{name}")
    finally:
        con.execute("DETACH held_run")
    private.protect(path)
    return path


def load(con: duckdb.DuckDBPyConnection, database: Path, run_id: int) -> bool:
    """Bring a held run's tables back as temp tables; whether they hold its whole plan (a run held by an
    older version kept only its input: it is planned again)."""
    path = held_file(database, run_id)
    if not path.exists():
        raise FileNotFoundError(f"the staged input of held run {run_id} is missing: {path}")
    con.execute(f"ATTACH '{_quoted(path)}' AS held_run (READ_ONLY)")
    try:
        names = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'held_run'"
        ).fetchall()
        for (name,) in names:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {_current(name)} AS SELECT * FROM held_run.{name}")
    finally:
        con.execute("DETACH held_run")
    loaded = {_current(name) for (name,) in names}
    if "norm_contact_checks" not in loaded:  # held by an older version: its checks were not kept
        con.execute(f"CREATE TEMP TABLE norm_contact_checks ({CHECK_COLUMNS})")
    return read_by_apply() <= loaded


def _current(name: str) -> str:
    for old, new in _OLD_NAMES:
        if name.startswith(old):
            return new + name[len(old) :]
    return name


def meltano_state_id(database: Path, run_id: int) -> str | None:
    """The Meltano state id of a held run; None when Meltano did not start it (or it was held before)."""
    return _meta(database, run_id).get("meltano_state_id")


def feed(database: Path, run_id: int) -> str | None:
    """The feed a held run merged into; None when it was held by an older version."""
    return _meta(database, run_id).get("feed")


def _meta(database: Path, run_id: int) -> dict:
    try:
        meta = json.loads(_meta_file(database, run_id).read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def drop(database: Path, run_id: int) -> None:
    """Forget a held run's staged input."""
    held_file(database, run_id).unlink(missing_ok=True)
    _meta_file(database, run_id).unlink(missing_ok=True)


def _meta_file(database: Path, run_id: int) -> Path:
    return held_file(database, run_id).with_suffix(".json")


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
