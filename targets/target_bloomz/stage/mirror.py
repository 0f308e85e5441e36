"""The source mirror: per feed and stream, the last known source records, so a delta plans like a full pull.

An incremental sync sends only what changed; planning from that alone would miss, say, the class of a new
parent's student. So the store keeps ``src_<stream>`` (one row per record of a feed, typed like
``stg_<stream>``) and ``src_streams`` (per feed and stream: is the mirror complete, since when). A feed is
one tap configuration (docs/mirror.md).

``merge`` runs after staging: it keeps this run's records as ``mirror_delta_<stream>`` and rebuilds
``stg_<stream>`` as the merged picture (a stream pulled complete replaces the mirror; otherwise records
are upserted by key and deletions drop them), so mapping and plan read the same tables as before. Nothing
is written to the store there: apply/mirror_commit.py writes the mirror inside apply's transaction, so a
dry run, a held run or a failed apply leaves it as it was. A held run keeps these tables with its plan
(plan/artifact.py), so its approval commits the mirror with it. The mirror's tables:
store/mirror_tables.py. All statements are set-based.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import duckdb

from roster_streams import contract
from target_bloomz.mapping import Mapping

# Which streams this run merged and how: apply/mirror_commit.py writes them to the store.
MERGED = "mirror_run"


def default_feed(mapping: Mapping) -> str:
    """``<source>:<mapping name>``: one feed per mapping file, unless the ``feed`` setting names one.

    The name is the file's stem, or its folder's for a district's ``districts/<district>/mapping.yml``.
    """
    path = mapping.path
    return f"{mapping.source}:{path.parent.name if path.name == 'mapping.yml' else path.stem}"


def same_key(stream: str, left: str, right: str) -> str:
    return " AND ".join(f"{left}.{k} = {right}.{k}" for k in contract.key_properties(stream))


def keep_not_provided(con: duckdb.DuckDBPyConnection, feed: str, fields: dict[str, list[str]]) -> None:
    """Give fields the source did not provide this pull (a CSV column the bundle lacks) the mirror's values,
    so the plan sees them unchanged rather than blanked. Run after staging, before ``merge``."""
    for stream, names in fields.items():
        known = contract.load_schema(stream)["properties"]
        keys = contract.key_properties(stream)
        names = [n for n in dict.fromkeys(names) if n in known and n not in keys and not n.startswith("_")]
        if names:
            con.execute(
                f"UPDATE stg_{stream} AS s SET {', '.join(f'{n} = m.{n}' for n in names)} "
                f"FROM src_{stream} AS m WHERE m.feed = ? AND {same_key(stream, 'm', 's')}",
                [feed],
            )


@dataclass(frozen=True)
class Merged:
    """What a merge found: the streams complete in the mirror afterwards, and how the run's pull compares."""

    complete: list[str]  # complete after the merge: only these may cause removals (plan/removals.py)
    pulled_complete: list[str]  # closed by ACTIVATE_VERSION in this run's own input
    cut_short: dict[str, int | None]  # stream → run of the mirror's last complete pull (see ``merge``)


def merge(
    con: duckdb.DuckDBPyConnection,
    feed: str,
    pulled_complete: set[str],
    versioned: Collection[str] = (),
) -> Merged:
    """Replace each ``stg_<stream>`` by the feed's merged mirror; say which streams are complete after it.

    A stream is complete when it was pulled complete now (ACTIVATE_VERSION), or was complete before and
    only merged with deltas since: a partial pull only upserts, so nothing missing from it is lost.
    A stream is *cut short* when its records carry a table version (``versioned``: a full pull started,
    where a delta's records carry none) but it did not close, and the mirror had it complete: the pull
    only upserts, its removals are judged from the mirror as of its last complete pull, and the run says so.
    Run after staging (contract rejects known) and before ``staging.check_references``, which then checks
    references against the merged picture.
    """
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {MERGED} "
        "(feed VARCHAR, stream VARCHAR, replace BOOLEAN, complete BOOLEAN)"
    )
    rejected = dict(con.execute("SELECT stream, count(*) FROM stg_rejects GROUP BY stream").fetchall())
    for stream in contract.STREAMS:
        delta = f"mirror_delta_{stream}"
        con.execute(f"DROP TABLE IF EXISTS {delta}; ALTER TABLE stg_{stream} RENAME TO {delta}")
        replace, complete = _decide(con, feed, stream, stream in pulled_complete, bool(rejected.get(stream)))
        con.execute(f"INSERT INTO {MERGED} VALUES (?, ?, ?, ?)", [feed, stream, replace, complete])
        kept = (
            ""
            if stream in pulled_complete  # the plan sees the pull as it came (plan/removals.py judges it)
            else f"""SELECT * EXCLUDE (feed), NULL::TIMESTAMPTZ AS _deleted_at, NULL::BIGINT AS _line
                     FROM src_{stream} m
                     WHERE m.feed = $feed
                       AND NOT EXISTS (SELECT 1 FROM {delta} d WHERE {same_key(stream, "d", "m")})
                     UNION ALL BY NAME"""
        )
        con.execute(
            f"CREATE TEMP TABLE stg_{stream} AS {kept} SELECT * FROM {delta} WHERE _deleted_at IS NULL",
            {"feed": feed} if kept else {},
        )
    earlier = dict(
        con.execute(
            "SELECT stream, completed_run FROM src_streams WHERE feed = ? AND complete", [feed]
        ).fetchall()
    )
    cut_short = {
        stream: earlier[stream]
        for stream in contract.STREAMS
        if stream in versioned and stream not in pulled_complete and stream in earlier
    }
    return Merged(sorted(pulled_complete.union(earlier)), sorted(pulled_complete), cut_short)


def _decide(
    con: duckdb.DuckDBPyConnection, feed: str, stream: str, complete_now: bool, rejects: bool
) -> tuple[bool, bool | None]:
    """(replace the mirror?, complete afterwards: True, False, or None for unchanged).

    A complete pull replaces the mirror, and is complete unless records were set aside. An empty complete
    pull where the mirror has records is a failed pull: it changes nothing. A stream with records set aside
    is no longer known whole: incomplete until the next clean complete pull. Otherwise the pull upserts.
    """
    if complete_now:
        received = _count(con, f"SELECT count(*) FROM mirror_delta_{stream} WHERE _deleted_at IS NULL")
        if received or not _count(con, f"SELECT count(*) FROM src_{stream} WHERE feed = ?", [feed]):
            return True, not rejects
    return False, False if rejects else None


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[str] | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row else 0
