"""Each e-mail address and phone number is checked once per store: later runs take the kept answer."""

from __future__ import annotations

import hashlib

import duckdb

from tests.support.district import district, query, run_target, singer_lines

ANN = "Ann.Smith@Example.org"  # tea1's e-mail as the district typed it
BAD = "not an address"


def _roster() -> str:
    records = district()
    records["students"][0]["email"] = BAD  # stu1
    return singer_lines(records)


def _sha(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _email_warnings(database, run_id: int) -> list[tuple]:
    return query(
        database,
        "SELECT record_key, message FROM run_issues WHERE run_id = ? AND message LIKE 'e-mail%'",
        [run_id],
    )


def test_checks_are_kept_by_hash_and_the_next_run_takes_them(database, tmp_path):
    first = run_target({"database": str(database)}, _roster(), tmp_path)
    assert first.returncode == 0, first.stderr

    kept = query(database, "SELECT field, region, raw_hash, value, warning FROM contact_checks ORDER BY ALL")
    assert ("email", "", _sha(ANN), "ann.smith@example.org", None) in kept
    assert ("phone", "US", _sha("(312) 555-0142"), "+13125550142", None) in kept
    assert [row[:3] for row in kept if row[4]] == [("email", "", _sha(BAD))]
    assert len(kept) == 5  # 3 e-mails, 2 phones
    assert not any(ANN in str(row) or BAD in str(row) for row in kept)  # hashes, never the raw values

    # Change a kept answer: the next run uses it instead of checking the address again.
    with duckdb.connect(str(database)) as con:
        con.execute("UPDATE contact_checks SET value = 'kept@example.org' WHERE raw_hash = ?", [_sha(ANN)])
    second = run_target({"database": str(database)}, _roster(), tmp_path)

    assert second.returncode == 0, second.stderr
    assert query(database, "SELECT email FROM people WHERE first_name = 'Ann'") == [("kept@example.org",)]
    # The invalid address's warning comes from the kept answer too, once per run.
    assert [key for key, _ in _email_warnings(database, 1)] == ["stu1"]
    assert _email_warnings(database, 2) == _email_warnings(database, 1)
    assert query(database, "SELECT count(*) FROM contact_checks") == [(5,)]


def test_a_new_value_is_checked_and_kept(database, tmp_path):
    run_target({"database": str(database)}, _roster(), tmp_path)
    records = district()
    records["contacts"][1]["email"] = "Hal@Example.org"  # con2 gains an address

    result = run_target({"database": str(database)}, singer_lines(records), tmp_path)

    assert result.returncode == 0, result.stderr
    assert query(
        database, "SELECT value FROM contact_checks WHERE raw_hash = ?", [_sha("Hal@Example.org")]
    ) == [("hal@example.org",)]
    assert query(database, "SELECT count(*) FROM contact_checks") == [(6,)]


def test_a_dry_run_keeps_no_checks(database, tmp_path):
    result = run_target({"database": str(database), "dry_run": True}, _roster(), tmp_path)

    assert result.returncode == 0, result.stderr
    assert query(database, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'contact_checks'") == [
        (0,)
    ]
