"""The mirror keeps each stream's records typed exactly as staging types them."""

from __future__ import annotations

from pathlib import Path

from target_bloomz import store
from target_bloomz.stage import staging

from roster_streams import contract


def columns(con, table: str, without: tuple[str, ...]) -> list[tuple[str, str]]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [row for row in rows if row[0] not in without]


def test_each_mirror_table_has_the_staged_columns_and_types(database: Path, tmp_path: Path):
    spool = tmp_path / "spool"
    spool.mkdir()
    con = store.connect(database)
    staging.stage(con, spool)  # nothing received: the staged tables exist, empty, with their columns

    for stream in contract.STREAMS:
        staged = columns(con, f"stg_{stream}", ("_deleted_at", "_line"))
        assert staged == columns(con, f"src_{stream}", ("feed",)), stream
    assert columns(con, "src_sections", ("feed",))[9:12] == [
        ("grades", "VARCHAR[]"),
        ("period", "VARCHAR"),
        ("term_ids", "VARCHAR[]"),
    ]
    assert columns(con, "src_enrollments", ("feed",))[3:] == [
        ("primary", "BOOLEAN"),
        ("updated_at", "VARCHAR"),
        ("extra", "JSON"),
    ]
    con.close()
