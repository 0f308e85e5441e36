"""A OneRoster CSV bundle with a row or a column the tap cannot read never removes or blanks anyone.

The bundles are the sandbox's own export (``roster-sandbox export-csv``), edited the way districts' files
go wrong: an unclosed quote in one row, a required column missing, optional columns missing.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from bloomz_sync.cli import main
from tests.support.district import query
from tests.support.pipes import exported, pipe, sandbox_cli, status_emails


@pytest.fixture(scope="module")
def bundle(district_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The district as a OneRoster 1.1 CSV bundle (a folder)."""
    folder = tmp_path_factory.mktemp("bundle") / "bundle"
    sandbox_cli("export-csv", str(district_dir), "--version", "1.1", "--out", str(folder))
    return folder


@pytest.fixture(scope="module")
def csv_store(bundle: Path, open_oneroster_mapping: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the bundle imported (the OneRoster default mapping, safety limits open)."""
    folder = tmp_path_factory.mktemp("csv-store")
    target = {"database": str(folder / "bloomz.duckdb"), "mapping": str(open_oneroster_mapping)}
    run = pipe("tap-oneroster", {"csv_path": str(bundle)}, target, folder)
    assert run.returncode == 0, run.stderr[-3000:]
    return folder / "bloomz.duckdb"


@pytest.fixture
def edited(bundle: Path, tmp_path: Path) -> Callable[..., Path]:
    """edited(edit) → a copy of the bundle whose users.csv rows (header first) went through ``edit``."""

    def copy(edit: Callable[[list[list[str]]], list[list[str]]]) -> Path:
        folder = tmp_path / f"bundle-{len(list(tmp_path.glob('bundle-*')))}"
        shutil.copytree(bundle, folder)
        with (folder / "users.csv").open(newline="") as handle:
            rows = edit(list(csv.reader(handle)))
        with (folder / "users.csv").open("w", newline="") as handle:
            csv.writer(handle, lineterminator="\r\n").writerows(rows)
        return folder

    return copy


def _store(csv_store: Path, tmp_path: Path) -> Path:
    database = tmp_path / "store" / "bloomz.duckdb"
    database.parent.mkdir()
    shutil.copy(csv_store, database)
    return database


def _target(database: Path, mapping: Path, **options: object) -> dict:
    return {"database": str(database), "mapping": str(mapping), "full_data": True, **options}


def _without(*columns: str) -> Callable[[list[list[str]]], list[list[str]]]:
    def edit(rows: list[list[str]]) -> list[list[str]]:
        keep = [i for i, name in enumerate(rows[0]) if name not in columns]
        return [[row[i] for i in keep] for row in rows]

    return edit


def _memberships(database: Path, source_id: str) -> list[tuple]:
    return query(
        database,
        """SELECT 'community', c.key FROM community_members m JOIN communities c ON c.id = m.community_id
               JOIN person_sources s ON s.person_id = m.person_id WHERE s.source_id = ?
           UNION ALL
           SELECT 'class', cl.section_id FROM class_members m JOIN classes cl ON cl.id = m.class_id
               JOIN person_sources s ON s.person_id = m.person_id WHERE s.source_id = ?
           ORDER BY ALL""",
        [source_id, source_id],
    )


def test_a_row_with_an_unclosed_quote_never_removes_its_student(
    csv_store: Path, open_oneroster_mapping: Path, edited: Callable[..., Path], tmp_path: Path
) -> None:
    database = _store(csv_store, tmp_path)
    before = exported(database)
    bundle = edited(lambda rows: rows)
    lines = (bundle / "users.csv").read_text().splitlines(keepends=True)
    number = next(i for i, text in enumerate(lines) if ",student," in text and i > 3)
    cells = next(csv.reader([lines[number]]))
    broken_id = [cells[0]]
    lines[number] = lines[number].replace(f",{cells[8]},", f',"{cells[8]},', 1)  # a quote that never closes
    (bundle / "users.csv").write_text("".join(lines))
    line = number + 1
    assert _memberships(database, broken_id[0]), "the student is in a community and classes before"

    failed = pipe(
        "tap-oneroster", {"csv_path": str(bundle)}, _target(database, open_oneroster_mapping), tmp_path
    )

    assert failed.tap_returncode == 0
    assert failed.returncode == 1, failed.stderr[-3000:]
    where = f"users.csv line {line}: malformed row skipped: a quoted field is never closed"
    assert (
        "the pull was not complete (1 row could not be read (" + where + ")); nothing was changed"
    ) in failed.stderr
    assert exported(database) == before

    outbox = tmp_path / "outbox"
    allowed = pipe(
        "tap-oneroster",
        {"csv_path": str(bundle)},
        _target(
            database,
            open_oneroster_mapping,
            apply_incomplete_pulls=True,
            notify_to=["School Support Staff"],
            outbox_dir=str(outbox),
        ),
        tmp_path,
    )

    assert allowed.returncode == 4, allowed.stderr[-3000:]
    assert allowed.states == []
    assert query(database, "SELECT status, pull_complete FROM runs ORDER BY id DESC LIMIT 1") == [
        ("applied", False)
    ]
    assert _memberships(database, broken_id[0]) == [
        (kind, key) for kind, key in _memberships(Path(csv_store), broken_id[0])
    ]
    errors = query(database, "SELECT stream, message FROM run_issues WHERE severity = 'error' AND run_id = 3")
    assert ("students", f"{where}; its record was kept as it was") in errors
    cli = CliRunner()
    status = cli.invoke(main, ["--database", str(database), "status"], catch_exceptions=False).output
    assert (
        f"Status: Incomplete: the pull was not complete (1 row could not be read ({where})); its adds and "
        "updates were applied, nothing was removed"
    ) in status
    emails = status_emails(outbox)
    assert emails
    for subject, text in emails:
        assert ": Incomplete" in subject
        assert "Status: Incomplete: the pull was not complete (1 row could not be read" in text
    runs = cli.invoke(main, ["--database", str(database), "runs"], catch_exceptions=False).output
    assert [line.split()[:2] for line in runs.splitlines()[1:]] == [
        ["3", "incomplete"],
        ["2", "failed"],
        ["1", "applied"],
    ]


def test_a_bundle_missing_a_required_column_fails_its_streams_and_blanks_nobody(
    csv_store: Path, open_oneroster_mapping: Path, edited: Callable[..., Path], tmp_path: Path
) -> None:
    database = _store(csv_store, tmp_path)
    before = exported(database)
    named = query(database, "SELECT count(*) FROM people WHERE first_name IS NOT NULL")[0][0]
    members = query(database, "SELECT count(*) FROM community_members")[0][0]

    no_first_names = pipe(
        "tap-oneroster",
        {"csv_path": str(edited(_without("givenName")))},
        _target(database, open_oneroster_mapping),
        tmp_path,
    )

    assert no_first_names.returncode == 1, no_first_names.stderr[-3000:]
    assert (
        "the pull was not complete (contacts, staff, student_contacts, students could not be read: users.csv "
        "has no givenName column, which OneRoster requires"
    ) in no_first_names.stderr
    assert exported(database) == before

    no_schools = pipe(
        "tap-oneroster",
        {"csv_path": str(edited(_without("orgSourcedIds")))},
        _target(database, open_oneroster_mapping, apply_incomplete_pulls=True),
        tmp_path,
    )

    assert no_schools.returncode == 4, no_schools.stderr[-3000:]
    assert "users.csv has no orgSourcedIds column, which OneRoster requires" in no_schools.stderr
    assert query(database, "SELECT count(*) FROM people WHERE first_name IS NOT NULL") == [(named,)]
    assert query(database, "SELECT count(*) FROM community_members") == [(members,)]


def test_optional_columns_missing_keep_the_values_they_would_have_blanked(
    csv_store: Path, open_oneroster_mapping: Path, edited: Callable[..., Path], tmp_path: Path
) -> None:
    database = _store(csv_store, tmp_path)
    before = exported(database)
    assert query(database, "SELECT count(*) FROM people WHERE email IS NOT NULL")[0][0] > 0
    assert query(database, "SELECT count(*) FROM student_contacts")[0][0] > 0

    run = pipe(
        "tap-oneroster",
        {"csv_path": str(edited(_without("email", "middleName", "agentSourcedIds")))},
        _target(database, open_oneroster_mapping),
        tmp_path,
    )

    assert run.returncode == 0, run.stderr[-3000:]
    assert exported(database) == before, "no e-mail, middle name or parent link was blanked or removed"
    warnings = query(
        database, "SELECT stream, message FROM run_issues WHERE run_id = 2 AND severity = 'warning'"
    )
    assert ("students", "users.csv has no email column: email kept as they were") in warnings
    assert (
        "student_contacts",
        "users.csv has no agentSourcedIds column: links kept as they were",
    ) in warnings
