"""The store's schema version and its in-place upgrade."""

from __future__ import annotations

import duckdb
import pytest
from target_bloomz import store
from target_bloomz.store import duckdb_store


def test_a_new_store_has_the_current_schema_version(database):
    with store.connect(database) as con:
        assert store.schema_version(con) == store.SCHEMA_VERSION


def test_an_older_store_is_upgraded_in_place_keeping_its_data(database):
    database.parent.mkdir(parents=True)
    with duckdb.connect(str(database)) as con:  # a version-1 store with a class in it
        duckdb_store._UPGRADES[1](con)
        con.execute("INSERT INTO store_meta VALUES ('schema_version', '1')")
        con.execute("INSERT INTO communities VALUES (1, 'clever:sch1', 'Lincoln', 'clever', 1, 1)")
        con.execute("INSERT INTO classes (id, community_id, name) VALUES (1, 1, 'Math')")

    with store.connect(database) as con:
        assert store.schema_version(con) == store.SCHEMA_VERSION
        assert con.execute("SELECT name, section_name FROM classes").fetchall() == [("Math", None)]


def test_a_store_newer_than_the_code_is_refused(database):
    database.parent.mkdir(parents=True)
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE TABLE store_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute("INSERT INTO store_meta VALUES ('schema_version', '99')")

    with pytest.raises(store.StoreError, match="schema version 99, newer than this bloomz-sync"):
        store.connect(database)


@pytest.mark.parametrize("read_only", [False, True])
def test_the_store_never_draws_a_progress_bar_on_standard_output(database, read_only):
    """DuckDB's progress bar goes to stdout: the target's Singer channel and `export`'s output."""
    store.connect(database).close()
    with store.connect(database, read_only=read_only) as con:
        row = con.execute("SELECT current_setting('enable_progress_bar')").fetchone()
    assert row == (False,)
