"""Hostile OneRoster CSV bundles through tap-oneroster and target-bloomz: encodings, BOM, delimiters, quotes,
missing or extra columns, bad dates, broken bundles.

The cases are written against behaviour, not against how the bundle is parsed: a bundle that cannot be
read stops the tap (exit 1) naming the file, and the store is left as it was; a bad row is named by file
and line (``users.csv`` and ``line 148``, or ``users.csv:148``) and left out; a row the CSV grammar allows
lands. A pull with a row or a file the tap could not read is not complete (issue 20, docs/resync.md): the
target's run fails naming it and changes nothing, and with ``apply_incomplete_pulls`` the rest of the bundle
lands (exit 4). Nothing of a row's content is printed.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import runner
from tests.support.district import DISTRICT_TABLES
from tests.support.hostile import assert_clean, assert_store

BIN = Path(sys.executable).parent
# A new user appended to users.csv: line 148 of the generated bundle's users.csv.
NEW_LINE = 148
PERSONAL = ("nia.ward1@example.net", "rosa.garcia2@example.net", "Zyxwy", "zyxwy@example.org", "555-0177")
COLUMNS = (
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,"
    "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password"
)
SCHOOL = "688bea800200000000000005"


def user_row(**cells: str) -> str:
    """A new student of the first school, as a users.csv line; ``cells`` replace columns by name."""
    values = dict.fromkeys(COLUMNS.split(","), "")
    values |= {
        "sourcedId": "zz-user-1",
        "enabledUser": "true",
        "orgSourcedIds": SCHOOL,
        "role": "student",
        "username": "zyxwy.h",
        "givenName": "Zyxwy",
        "familyName": "Hostile",
        "identifier": "999001",
        "email": "zyxwy@example.org",
        "phone": "312-555-0177",
        "grades": "02",
    }
    values |= cells
    return ",".join(values.values())


Mutation = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """What to do to a good bundle folder, and how the tap must answer it."""

    mutate: Mutation
    exit_code: int  # of the tap
    file: str = "users.csv"
    line: int | None = None  # a row named by line, left out (None: nothing has to be named)
    says: str = ""
    incomplete: bool = False  # the tap could not read a row or a file: the pull is not complete


def _append(text: str, name: str = "users.csv") -> Mutation:
    def mutate(bundle: Path) -> None:
        with (bundle / name).open("a", encoding="utf-8", newline="") as file:
            file.write(text)

    return mutate


def _append_bytes(data: bytes, name: str = "users.csv") -> Mutation:
    def mutate(bundle: Path) -> None:
        with (bundle / name).open("ab") as file:
            file.write(data)

    return mutate


def _rewrite(change: Callable[[str], str], name: str = "users.csv") -> Mutation:
    def mutate(bundle: Path) -> None:
        path = bundle / name
        path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8", newline="")

    return mutate


def _encode(encoding: str, name: str = "users.csv", extra: str = "") -> Mutation:
    def mutate(bundle: Path) -> None:
        path = bundle / name
        path.write_bytes((path.read_text(encoding="utf-8") + extra).encode(encoding))

    return mutate


def _replace_file(data: bytes, name: str) -> Mutation:
    def mutate(bundle: Path) -> None:
        (bundle / name).write_bytes(data)

    return mutate


def _remove(name: str) -> Mutation:
    def mutate(bundle: Path) -> None:
        (bundle / name).unlink()

    return mutate


def _swap(old: str, new: str, text: str) -> str:
    return text.replace(old, new)


CASES: dict[str, Case] = {}

# -- encodings and BOM ------------------------------------------------------------------------------------
_ACCENTED = user_row(givenName="Zyxwyé") + "\r\n"
for encoding in ("latin-1", "cp1252", "utf-16", "utf-16-le", "utf-32", "mac-roman"):
    CASES[f"encoding-{encoding}"] = Case(_encode(encoding, extra=_ACCENTED), 1)
CASES["encoding-invalid-byte"] = Case(_append_bytes(user_row(givenName="Zyxw").encode() + b"\xff\xfe\r\n"), 1)
CASES["encoding-utf8-bom"] = Case(_encode("utf-8-sig", extra=user_row() + "\r\n"), 0)
CASES["encoding-bom-manifest"] = Case(_encode("utf-8-sig", "manifest.csv"), 0, file="manifest.csv")
CASES["encoding-bom-orgs"] = Case(_encode("utf-8-sig", "orgs.csv"), 0, file="orgs.csv")
CASES["encoding-bom-inside-cell"] = Case(_append(user_row(givenName="Zy\ufeffxwy") + "\r\n"), 0)
CASES["encoding-emoji"] = Case(_append(user_row(givenName="Zyxwy \U0001f600") + "\r\n"), 0)
CASES["encoding-nul-in-cell"] = Case(_append(user_row(givenName="Zy\x00xwy") + "\r\n"), 0)
CASES["encoding-control-in-cell"] = Case(_append(user_row(givenName="Zyxwy\x1b[2J") + "\r\n"), 0)

# -- delimiters and line ends -----------------------------------------------------------------------------
for name, delimiter in (("semicolon", ";"), ("tab", "\t"), ("pipe", "|")):
    CASES[f"delimiter-{name}"] = Case(_rewrite(functools.partial(_swap, ",", delimiter)), 1)
CASES["delimiter-unix-line-ends"] = Case(_rewrite(lambda text: text.replace("\r\n", "\n")), 0)
CASES["delimiter-old-mac-line-ends"] = Case(_rewrite(lambda text: text.replace("\r\n", "\r")), 0)
CASES["delimiter-no-final-newline"] = Case(_rewrite(lambda text: text.rstrip("\r\n")), 0)
CASES["delimiter-blank-lines"] = Case(_append("\r\n\r\n,,,\r\n\r\n"), 0)
CASES["delimiter-spaces-around"] = Case(_append(user_row(givenName=" Zyxwy ", grades=" 02 ") + "\r\n"), 0)

# -- quotes -----------------------------------------------------------------------------------------------
CASES["quote-unclosed"] = Case(
    _append(user_row(givenName='"Zyxwy') + "\r\n"), 0, line=NEW_LINE, incomplete=True
)
CASES["quote-unclosed-then-more-rows"] = Case(
    _append(user_row(givenName='"Zyxwy') + "\r\n" + user_row(sourcedId="zz-user-2") + "\r\n"),
    0,
    line=NEW_LINE,
    incomplete=True,
)
CASES["quote-in-unquoted-cell"] = Case(_append(user_row(givenName='Zy"xwy') + "\r\n"), 0)
CASES["quote-doubled"] = Case(_append(user_row(givenName='"Zy""xwy"') + "\r\n"), 0)
CASES["quote-comma-inside"] = Case(_append(user_row(familyName='"Hostile, Jr."') + "\r\n"), 0)
# A line break inside quotes is data (RFC 4180; real exports hold them in names and addresses): the row is
# read whole, so the pull is complete.
CASES["quote-newline-inside"] = Case(_append(user_row(familyName='"Hostile\r\nJr."') + "\r\n"), 0)
CASES["quote-only"] = Case(_append('"\r\n'), 0)  # an empty row: nothing to lose
CASES["quote-huge-cell"] = Case(_append(user_row(givenName="Zyxwy" + "a" * 200_000) + "\r\n"), 0)

# -- missing and extra columns ----------------------------------------------------------------------------
CASES["columns-row-short"] = Case(
    _append(",".join(user_row().split(",")[:5]) + "\r\n"), 0, line=NEW_LINE, incomplete=True
)
CASES["columns-row-long"] = Case(_append(user_row() + ",extra,cells\r\n"), 0, line=NEW_LINE, incomplete=True)
CASES["columns-row-empty-id"] = Case(
    _append(user_row(sourcedId="") + "\r\n"), 0, line=NEW_LINE, incomplete=True
)
CASES["columns-row-single-cell"] = Case(_append("zz-user-1\r\n"), 0, line=NEW_LINE, incomplete=True)
CASES["columns-header-no-sourcedid"] = Case(_rewrite(lambda text: text.replace("sourcedId,", "id,", 1)), 1)
CASES["columns-header-no-role"] = Case(
    _rewrite(lambda text: text.replace(",role,", ",kind,", 1)), 0, incomplete=True
)
CASES["columns-header-extra"] = Case(
    _rewrite(lambda text: "\r\n".join(line + ",x" for line in text.split("\r\n") if line) + "\r\n"),
    0,
    incomplete=True,
)
CASES["columns-header-optional-missing"] = Case(
    _rewrite(
        lambda text: "\r\n".join(line.rsplit(",", 1)[0] for line in text.split("\r\n") if line) + "\r\n"
    ),
    0,
    incomplete=True,
)
CASES["columns-header-reordered"] = Case(
    _rewrite(
        lambda text: "\r\n".join(",".join(reversed(row.split(","))) for row in text.splitlines()) + "\r\n"
    ),
    0,
    incomplete=True,
)
CASES["columns-empty-file"] = Case(_replace_file(b"", "users.csv"), 1)
CASES["columns-header-only"] = Case(_replace_file((COLUMNS + "\r\n").encode(), "users.csv"), 0)
CASES["columns-classes-no-school"] = Case(
    _rewrite(lambda text: text.replace("schoolSourcedId", "school", 1), "classes.csv"),
    0,
    file="classes.csv",
    incomplete=True,
)

# -- bad dates and values ---------------------------------------------------------------------------------
for name, value in {
    "words": "yesterday",
    "month-13": "2026-13-45",
    "far-future": "9999-12-31T23:59:59Z",
    "far-past": "0001-01-01",
    "epoch-number": "1700000000",
    "huge-year": "99999999-01-01",
}.items():
    CASES[f"dates-modified-{name}"] = Case(_append(user_row(dateLastModified=value) + "\r\n"), 0)
    CASES[f"dates-term-start-{name}"] = Case(
        _rewrite(functools.partial(_swap, "2025-08-20", value), "academicSessions.csv"),
        0,
        file="academicSessions.csv",
    )
CASES["values-role-unknown"] = Case(_append(user_row(role="wizard") + "\r\n"), 0)
CASES["values-school-unknown"] = Case(_append(user_row(orgSourcedIds="no-such-school") + "\r\n"), 0)
CASES["values-user-ids-garbage"] = Case(_append(user_row(userIds='"{{{:::}}}"') + "\r\n"), 0)
CASES["values-enabled-not-bool"] = Case(_append(user_row(enabledUser="perhaps") + "\r\n"), 0)
CASES["values-status-deleted"] = Case(_append(user_row(status="tobedeleted") + "\r\n"), 0)
CASES["values-enrollment-unknown-class"] = Case(
    _append("zz-e,,,no-class," + SCHOOL + ",688bea800600000000000007,student,false,,\r\n", "enrollments.csv"),
    0,
    file="enrollments.csv",
)

# -- the bundle itself ------------------------------------------------------------------------------------
CASES["bundle-no-manifest"] = Case(_remove("manifest.csv"), 1, file="manifest.csv")
CASES["bundle-listed-file-missing"] = Case(_remove("users.csv"), 1)
CASES["bundle-manifest-garbage"] = Case(
    _replace_file(b"\x00\x01\x02garbage", "manifest.csv"), 1, file="manifest.csv"
)
CASES["bundle-manifest-unknown-mode"] = Case(
    _rewrite(lambda text: text.replace("file.users,bulk", "file.users,sometimes"), "manifest.csv"),
    0,
    file="manifest.csv",
)


def _zipped(prefix: str = "", garbage: bool = False) -> Mutation:
    def mutate(bundle: Path) -> None:
        archive = bundle.with_suffix(".zip")
        if garbage:
            archive.write_bytes(b"PK\x03\x04 not really a zip")
            return
        with zipfile.ZipFile(archive, "w") as out:
            for path in bundle.iterdir():
                out.write(path, prefix + path.name)

    return mutate


CASES["bundle-zip-garbage"] = Case(_zipped(garbage=True), 1, file="bundle.zip")
CASES["bundle-zip-traversal-names"] = Case(_zipped(prefix="../../"), 0, file="bundle.zip")


@pytest.fixture(scope="module")
def good_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated tiny district as a OneRoster 1.1 CSV bundle (folder)."""
    folder = tmp_path_factory.mktemp("csv")
    for command in (
        ["generate", "tiny", "--seed", "1", "--out", str(folder / "district")],
        ["export-csv", str(folder / "district"), "--version", "1.1", "--out", str(folder / "bundle")],
    ):
        done = subprocess.run([BIN / "roster-sandbox", *command], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    return folder / "bundle"


@pytest.fixture(scope="module")
def csv_store(good_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The good bundle imported once (oneroster source), for every case to start from."""
    folder = tmp_path_factory.mktemp("csv-store")
    database = folder / "bloomz.duckdb"
    runner.pipeline(
        "tap-oneroster",
        {"csv_path": str(good_bundle)},
        {"database": str(database), "source": "oneroster"},
        folder,
    )
    return database


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_hostile_csv_bundle(
    case: Case, good_bundle: Path, csv_store: Path, tmp_path: Path, capfd: Any
) -> None:
    bundle = shutil.copytree(good_bundle, tmp_path / "bundle")
    case.mutate(bundle)
    zipped = bundle.with_suffix(".zip")
    store = tmp_path / "data" / "bloomz.duckdb"
    store.parent.mkdir()
    shutil.copyfile(csv_store, store)
    before = runner.store_state(store)

    tapped = runner.tap(
        "tap-oneroster", {"csv_path": str(zipped if zipped.exists() else bundle)}, capfd, tmp_path
    )

    assert_clean(
        tapped, exit_code=case.exit_code, names=[case.file] if case.exit_code else [], private=PERSONAL
    )
    if case.line is not None:
        named = re.search(rf"{re.escape(case.file)}(:| line ){case.line}\b", tapped.stderr)
        assert named, f"{case.file} line {case.line} is not named in:\n{tapped.stderr[-2000:]}"
    if case.exit_code:
        assert_store(store, before, applied=False)  # the pipeline stopped at the tap
        return
    config: dict[str, Any] = {"database": str(store), "source": "oneroster"}
    if case.incomplete:
        failed = runner.target(config, tapped.stdout, capfd, tmp_path)
        assert_clean(failed, exit_code=1, names=[case.file], private=PERSONAL)
        assert runner.last_run_status(store) == "failed"
        after = runner.store_state(store)
        assert {t: after[t] for t in DISTRICT_TABLES} == {t: before[t] for t in DISTRICT_TABLES}, "changed"
        config["apply_incomplete_pulls"] = True
    imported = runner.target(config, tapped.stdout, capfd, tmp_path)
    assert_clean(imported, exit_code=4 if case.incomplete else 0, private=PERSONAL)
    assert_store(store, before, applied=True, runs=2 if case.incomplete else 1)


def test_the_cases_cover_every_kind_of_hostile_bundle() -> None:
    kinds = {name.split("-")[0] for name in CASES}
    assert kinds == {"encoding", "delimiter", "quote", "columns", "dates", "values", "bundle"}
    assert len(CASES) >= 60
