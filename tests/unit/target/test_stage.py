"""Staging: each stream's spooled records into a typed stg_* table, bad ones set aside with their reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
from target_bloomz.stage import staging


def write_spool(spool_dir: Path, stream: str, lines: list[str]) -> None:
    spool_dir.mkdir(parents=True, exist_ok=True)
    (spool_dir / f"{stream}.ndjson").write_text("".join(line + "\n" for line in lines))


def rejects(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return con.execute("SELECT stream, record_key, problem, json FROM stg_rejects ORDER BY ALL").fetchall()


def test_every_kind_of_bad_record_is_set_aside_with_its_reason_and_the_record_as_received(
    store_con, tmp_path
):
    spool = tmp_path / "spool"
    bad_students = [
        '{"school_ids":["sch1"]}',
        '{"id":null}',
        '{"id":""}',
        '{"id":7}',
        '{"id":-7}',
        '{"id":1.5}',
        '{"id":{"a":1}}',
        '{"id":"s2","school_ids":"sch1","first_name":7,"last_name":false}',
        '{"id":"s3","school_ids":null,"extra":null}',
        '{"id":"s4","school_ids":["sch1",5,null],"extra":"x"}',
        '{"id":"s5","updated_at":"yesterday","_sdc_deleted_at":"soon"}',
        '{"id":"s6","surprise":1,"_sdc_table_version":3,"another":{"x":1}}',
    ]
    write_spool(spool, "students", ['{"id":"s1","school_ids":["sch1"]}', *bad_students])
    write_spool(spool, "staff", ['{"id":"t1","roles":["teacher","wizard"]}', '{"id":"t2","roles":"teacher"}'])
    write_spool(
        spool,
        "enrollments",
        [
            '{"section_id":"c1","user_id":"s1","role":"teacher","primary":"yes"}',
            '{"section_id":"c1","role":"pupil"}',
            '{"user_id":"s2","role":5,"primary":1}',
        ],
    )
    write_spool(spool, "terms", ['{"id":"x1","start_date":"2026-02-30"}'])
    write_spool(spool, "sections", ['{"id":"c1","section_type":"lab","grades":["1",2],"term_ids":null}'])

    received = staging.stage(store_con, spool)

    assert received["students"] == 13
    assert received["contacts"] == 0
    assert rejects(store_con) == [
        (
            "enrollments",
            "?/s2",
            "missing section_id; role: expected string, got ubigint; "
            "primary: expected boolean or null, got ubigint",
            '{"user_id":"s2","role":5,"primary":1}',
        ),
        (
            "enrollments",
            "c1/?",
            "missing user_id; role: pupil is not one of student, teacher, aide",
            '{"section_id":"c1","role":"pupil"}',
        ),
        (
            "enrollments",
            "c1/s1",
            "primary: expected boolean or null, got varchar",
            '{"section_id":"c1","user_id":"s1","role":"teacher","primary":"yes"}',
        ),
        (
            "sections",
            "c1",
            "section_type: lab is not one of homeroom, scheduled; grades: expected an array of strings; "
            "term_ids: expected array, got null",
            '{"id":"c1","section_type":"lab","grades":["1",2],"term_ids":null}',
        ),
        (
            "staff",
            "t1",
            "roles: a value is not one of teacher, staff, school_admin, district_admin, aide",
            '{"id":"t1","roles":["teacher","wizard"]}',
        ),
        ("staff", "t2", "roles: expected array, got varchar", '{"id":"t2","roles":"teacher"}'),
        ("students", "", "id: empty", '{"id":""}'),
        ("students", "-7", "id: expected string, got bigint", '{"id":-7}'),
        ("students", "1.5", "id: expected string, got double", '{"id":1.5}'),
        ("students", "7", "id: expected string, got ubigint", '{"id":7}'),
        ("students", "?", "missing id", '{"id":null}'),
        ("students", "?", "missing id", '{"school_ids":["sch1"]}'),
        (
            "students",
            "s2",
            "school_ids: expected array, got varchar; first_name: expected string or null, got ubigint; "
            "last_name: expected string or null, got boolean",
            bad_students[7],
        ),
        (
            "students",
            "s3",
            "school_ids: expected array, got null; extra: expected object, got null",
            bad_students[8],
        ),
        (
            "students",
            "s4",
            "school_ids: expected an array of strings; extra: expected object, got varchar",
            bad_students[9],
        ),
        (
            "students",
            "s5",
            "updated_at: not a valid date-time; _sdc_deleted_at: not a valid date-time",
            bad_students[10],
        ),
        ("students", "s6", "unknown fields: surprise, another", bad_students[11]),
        ("students", '{"a":1}', "id: expected string, got object", '{"id":{"a":1}}'),
        ("terms", "x1", "start_date: not a valid date", '{"id":"x1","start_date":"2026-02-30"}'),
    ]
    assert store_con.execute("SELECT id, school_ids FROM stg_students").fetchall() == [("s1", ["sch1"])]
    for stream in ("staff", "enrollments", "terms", "sections", "contacts"):
        assert store_con.execute(f"SELECT count(*) FROM stg_{stream}").fetchall() == [(0,)]


def test_good_records_are_typed_as_the_contract_says(store_con, tmp_path):
    spool = tmp_path / "spool"
    student = {
        "id": "s9",
        "school_ids": ["sch1", "sch2"],
        "first_name": 'Zoé "Q" \\ \n',
        "email": None,
        "updated_at": "2026-01-02T03:04:05+02:00",
        "extra": {"nested": [1, {"b": None}]},
        "_sdc_deleted_at": "2026-11-01T00:00:00Z",
        "_sdc_extracted_at": "2026-11-01T00:00:00Z",
    }
    write_spool(spool, "students", [json.dumps(student), '{"id":"s10"}'])
    write_spool(spool, "enrollments", ['{"section_id":"c1","user_id":"s9","role":"aide","primary":true}'])

    staging.stage(store_con, spool)

    assert store_con.execute(
        "SELECT id, school_ids, first_name, email, updated_at, extra, _deleted_at, _line FROM stg_students "
        "ORDER BY _line"
    ).fetchall() == [
        (
            "s9",
            ["sch1", "sch2"],
            'Zoé "Q" \\ \n',
            None,
            "2026-01-02T03:04:05+02:00",
            '{"nested":[1,{"b":null}]}',
            store_con.execute("SELECT TIMESTAMPTZ '2026-11-01T00:00:00Z'").fetchall()[0][0],
            1,
        ),
        ("s10", [], None, None, None, "{}", None, 2),
    ]
    assert store_con.execute('SELECT role, "primary" FROM stg_enrollments').fetchall() == [("aide", True)]
    assert rejects(store_con) == []


def test_the_last_record_of_a_key_wins_in_a_spool_read_in_parallel(store_con, tmp_path):
    # Every key twice, the second half of the file repeating the first: about 80 MB, so DuckDB reads the
    # file in several buffers at once, and only input order decides which record of a key is the last.
    padding = {"note": "x" * 2000}
    lines = [
        json.dumps({"section_id": f"c{n % 500}", "user_id": f"s{n}", "role": role, "extra": padding})
        for role in ("student", "teacher")
        for n in range(20_000)
    ]
    lines.insert(30_000, '{"section_id":"c7","user_id":"s7","role":"wizard"}')  # set aside: never a candidate
    write_spool(tmp_path / "spool", "enrollments", lines)

    received = staging.stage(store_con, tmp_path / "spool")

    assert received["enrollments"] == 40_001
    assert store_con.execute("SELECT role, count(*) FROM stg_enrollments GROUP BY role").fetchall() == [
        ("teacher", 20_000)
    ]
    assert store_con.execute(
        "SELECT _line FROM stg_enrollments WHERE user_id IN ('s0', 's7', 's19999') ORDER BY _line"
    ).fetchall() == [(20_001,), (20_008,), (40_001,)]
    assert [row[:2] for row in rejects(store_con)] == [("enrollments", "c7/s7")]


def test_staging_again_on_the_same_connection_replaces_what_was_staged(store_con, tmp_path):
    write_spool(tmp_path / "first", "schools", ['{"id":"sch1","name":"Lincoln"}', '{"id":"sch2","name":7}'])
    write_spool(tmp_path / "second", "schools", ['{"id":"sch3","name":"Jefferson"}'])

    staging.stage(store_con, tmp_path / "first")
    received = staging.stage(store_con, tmp_path / "second")

    assert received["schools"] == 1
    assert store_con.execute("SELECT id, name, _line FROM stg_schools").fetchall() == [
        ("sch3", "Jefferson", 1)
    ]
    assert rejects(store_con) == []
