"""The source mirror's tables in the store (store upgrades): ``src_streams`` and ``src_<stream>``."""

from __future__ import annotations

import duckdb

from roster_streams import contract
from target_bloomz.store.stream_columns import columns


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The mirror's tables (a store upgrade step): ``src_streams`` and one ``src_<stream>`` per stream."""
    con.execute(
        """CREATE TABLE src_streams (
               feed VARCHAR NOT NULL,
               stream VARCHAR NOT NULL,
               complete BOOLEAN NOT NULL,     -- established by a complete pull, merged with deltas since
               completed_at TIMESTAMP,        -- when the last complete pull was committed
               completed_run BIGINT,
               updated_at TIMESTAMP NOT NULL,
               updated_run BIGINT,
               records BIGINT NOT NULL,
               PRIMARY KEY (feed, stream))"""
    )
    for stream in contract.STREAMS:
        _create_table(con, f"src_{stream}", stream)


def _create_table(con: duckdb.DuckDBPyConnection, table: str, stream: str) -> None:
    """An empty mirror table of a stream: the feed, then the stream's staged columns."""
    empty = "(SELECT NULL::VARCHAR[] AS s, NULL::VARCHAR[] AS t WHERE false)"  # what columns() reads
    typed = ", ".join(columns(stream))
    con.execute(f"CREATE TABLE {table} AS SELECT ''::VARCHAR AS feed, {typed} FROM {empty}")


def rebuild_table(con: duckdb.DuckDBPyConnection, stream: str) -> None:
    """A store upgrade step for a stream whose contract gained fields: its mirror gets the new columns, in
    the staged order, and keeps its rows (the new columns empty)."""
    _create_table(con, f"src_{stream}_new", stream)
    con.execute(f"INSERT INTO src_{stream}_new BY NAME SELECT * FROM src_{stream}")
    con.execute(f"DROP TABLE src_{stream}; ALTER TABLE src_{stream}_new RENAME TO src_{stream}")
