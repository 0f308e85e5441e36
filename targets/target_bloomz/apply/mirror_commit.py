"""Write the run's merge of the source mirror (stage/mirror.py) to the store, inside apply's transaction."""

from __future__ import annotations

import duckdb

from target_bloomz.stage.mirror import MERGED, same_key


def commit(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """Write the merged run into the mirror (call inside apply's transaction); no-op without a merge."""
    merged = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [MERGED]
    ).fetchone()
    if not (merged and merged[0]):
        return
    rows = con.execute(f"SELECT feed, stream, replace, complete FROM {MERGED}").fetchall()
    for feed, stream, replace, complete in rows:
        delta = f"mirror_delta_{stream}"
        if replace:
            con.execute(f"DELETE FROM src_{stream} WHERE feed = ?", [feed])
        else:
            con.execute(
                f"DELETE FROM src_{stream} m WHERE m.feed = ? "
                f"AND EXISTS (SELECT 1 FROM {delta} d WHERE {same_key(stream, 'd', 'm')})",
                [feed],
            )
        con.execute(
            f"INSERT INTO src_{stream} BY NAME SELECT ? AS feed, * EXCLUDE (_deleted_at, _line) "
            f"FROM {delta} WHERE _deleted_at IS NULL",
            [feed],
        )
        con.execute(
            f"""INSERT INTO src_streams BY NAME
                SELECT $feed AS feed, $stream AS stream, coalesce($complete, false) AS complete,
                    CASE WHEN $replace AND $complete THEN now() END AS completed_at,
                    CASE WHEN $replace AND $complete THEN $run END AS completed_run,
                    now() AS updated_at, $run AS updated_run,
                    (SELECT count(*) FROM src_{stream} WHERE feed = $feed) AS records
                ON CONFLICT (feed, stream) DO UPDATE SET
                    complete = coalesce($complete, src_streams.complete),
                    completed_at = coalesce(excluded.completed_at, src_streams.completed_at),
                    completed_run = coalesce(excluded.completed_run, src_streams.completed_run),
                    updated_at = excluded.updated_at, updated_run = excluded.updated_run,
                    records = excluded.records""",
            {"feed": feed, "stream": stream, "replace": replace, "complete": complete, "run": run_id},
        )
