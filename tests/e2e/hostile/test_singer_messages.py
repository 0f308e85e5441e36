"""Hostile Singer messages into target-bloomz: bad JSON, wrong types, huge values, control characters,
duplicate keys, unknown streams, dangling references.

Each case is the small good district's messages with one hostile line put in after the last student
record (line 22 of the input). A case that cannot be read fails with exit 1, naming that line, and leaves
the good store as it was; one whose record breaks the contract is set aside (named in the run's issues) and
the rest is applied. BATCH manifests have their own module (test_batch_manifests.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support import runner
from tests.support.district import district, singer_lines
from tests.support.hostile import assert_clean, assert_store

HERE = 22  # the line the hostile message takes
BASE = singer_lines(district()).splitlines()
HOSTILE = {
    "id": "stu-h",
    "school_ids": ["sch1"],
    "sis_id": "S-H",
    "first_name": "Zyxwy",
    "last_name": "Hostile",
    "email": "zyxwy@example.org",
    "phone": "312-555-0177",
    "grade": "1",
}


def record(**fields: Any) -> str:
    """A students RECORD of the hostile student, with ``fields`` changed (None removes a field)."""
    values = {k: v for k, v in {**HOSTILE, **fields}.items() if v is not None}
    return json.dumps({"type": "RECORD", "stream": "students", "record": values, "version": 1})


@dataclass(frozen=True)
class Case:
    """One hostile line (text or bytes) at line HERE; exit 1 names the line, exit 0 sets ``aside`` aside."""

    line: str | bytes
    exit_code: int
    says: str = ""  # what the failure line says about it, besides its line
    where: str = f"line {HERE} of the input"  # how a failure names the place
    aside: tuple[str, str] | None = None  # (stream, record key) the run sets aside and reports
    lands: str | None = None  # a person id the run imports

    def messages(self) -> bytes:
        # A record of a later stream goes after that stream's SCHEMA: before the final STATE.
        at = len(BASE) if self.aside and self.aside[0] != "students" else HERE
        head, tail = BASE[: at - 1], BASE[at - 1 :]
        line = self.line if isinstance(self.line, bytes) else self.line.encode()
        return b"\n".join([*(x.encode() for x in head), line, *(x.encode() for x in tail)]) + b"\n"


CASES: dict[str, Case] = {}

# -- not JSON, or not a Singer message --------------------------------------------------------------------
_GOOD = record()
for cut in (1, 2, 10, 20, 30, 45, 60, 80, 100, len(_GOOD) - 1):
    CASES[f"json-cut-at-{cut}"] = Case(_GOOD[:cut], 1, "is not a valid Singer message")
for name, line in {
    "word": "nonsense",
    "open-brace": "{",
    "close-brace": "}",
    "empty-array": "[]",
    "array": '[1, "RECORD", {"id": "stu-h"}]',
    "number": "123",
    "true": "true",
    "null": "null",
    "string": '"RECORD"',
    "empty-object": "{}",
    "type-null": '{"type": null, "stream": "students"}',
    "type-number": '{"type": 5, "stream": "students"}',
    "trailing-garbage": _GOOD + " x",
    "two-messages": _GOOD + _GOOD,
    "single-quotes": _GOOD.replace('"', "'"),
    "nan": record(grade=None).replace('"version": 1', '"version": NaN'),
    "comment": "// " + _GOOD,
    "xml": '<?xml version="1.0"?><record id="stu-h"/>',
}.items():
    CASES[f"not-singer-{name}"] = Case(line, 1, "is not a valid Singer message")
CASES["not-singer-nul-byte"] = Case(_GOOD + "\x00", 1, "is not a valid Singer message")
CASES["not-singer-bom"] = Case("\ufeff" + _GOOD, 1, "is not a valid Singer message")
CASES["not-singer-utf16"] = Case(_GOOD.encode("utf-16"), 1, "is not a valid Singer message")
CASES["unknown-type-lowercase"] = Case(
    _GOOD.replace('"RECORD"', '"record"'), 1, "unknown Singer message type"
)
CASES["unknown-type-word"] = Case(
    '{"type": "DELETE", "stream": "students"}', 1, "unknown Singer message type"
)
CASES["unknown-type-long"] = Case('{"type": "' + "X" * 5000 + '"}', 1, "unknown Singer message type")
# A string that is not UTF-8 inside a record: the record is spooled as it came, and staging refuses it.
CASES["record-not-utf8"] = Case(
    _GOOD.encode().replace(b"Zyxwy", b"Zyxw\xff"), 1, "not UTF-8", where="the students records cannot be read"
)


# -- fields of the wrong type -----------------------------------------------------------------------------
def msg(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})


_SCHEMA: dict[str, Any] = {"properties": {}}
_JSONL = {"format": "jsonl"}
_WRONG = {
    "record-stream-number": msg("RECORD", stream=5, record={"id": "stu-h"}),
    "record-stream-list": msg("RECORD", stream=["students"], record={"id": "stu-h"}),
    "record-string": msg("RECORD", stream="students", record="Zyxwy"),
    "record-number": msg("RECORD", stream="students", record=5),
    "record-array": msg("RECORD", stream="students", record=["stu-h", "Zyxwy"]),
    "record-null": msg("RECORD", stream="students", record=None),
    "record-missing": msg("RECORD", stream="students"),
    "record-no-stream": msg("RECORD", record={"id": "stu-h", "first_name": "Zyxwy"}),
    "version-string": record().replace('"version": 1', '"version": "one"'),
    "version-float": record().replace('"version": 1', '"version": 1.5'),
    "version-bool": record().replace('"version": 1', '"version": true'),
    "version-huge": record().replace('"version": 1', '"version": ' + "9" * 5000),
    "schema-stream-number": msg("SCHEMA", stream=5, schema=_SCHEMA),
    "schema-array": msg("SCHEMA", stream="students", schema=[], key_properties=["id"]),
    "schema-string": msg("SCHEMA", stream="students", schema="x", key_properties=["id"]),
    "schema-no-properties": msg("SCHEMA", stream="students", schema={"type": "bogus"}),
    "schema-properties-list": msg("SCHEMA", stream="students", schema={"properties": []}),
    "schema-keys-string": msg("SCHEMA", stream="x", schema=_SCHEMA, key_properties="id"),
    "schema-keys-numbers": msg("SCHEMA", stream="x", schema=_SCHEMA, key_properties=[1]),
    "schema-missing": msg("SCHEMA", stream="students"),
    "state-no-value": msg("STATE"),
    "activate-no-version": msg("ACTIVATE_VERSION", stream="students"),
    "activate-version-string": msg("ACTIVATE_VERSION", stream="students", version="1"),
    "activate-version-null": msg("ACTIVATE_VERSION", stream="students", version=None),
    "activate-no-stream": msg("ACTIVATE_VERSION", version=1),
    "batch-encoding-string": msg("BATCH", stream="students", encoding="jsonl", manifest=[]),
    "batch-no-manifest": msg("BATCH", stream="students", encoding=_JSONL),
    "batch-manifest-string": msg("BATCH", stream="students", encoding=_JSONL, manifest="file:///x"),
    "batch-manifest-numbers": msg("BATCH", stream="students", encoding=_JSONL, manifest=[1, 2]),
    "batch-format-number": msg("BATCH", stream="students", encoding={"format": 5}, manifest=[]),
}
for name, line in _WRONG.items():
    CASES[f"wrong-type-{name}"] = Case(line, 1)

# -- huge values ------------------------------------------------------------------------------------------
_DEEP_LIST, _DEEP_OBJECT = "[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000
_DEEP_SCHEMA = '{"properties": {"a": ' * 5000 + "{}" + "}}" * 5000
_NESTED = "nested too deeply"
CASES["huge-line"] = Case(record(first_name="Zyxwy" + "a" * (9 << 20)), 1, "longer than 8 MB")
CASES["huge-nesting-record"] = Case(
    record().replace('"grade"', '"extra": ' + _DEEP_LIST + ', "grade"'), 1, _NESTED
)
CASES["huge-nesting-object"] = Case(
    record().replace('"grade"', '"extra": ' + _DEEP_OBJECT + ', "grade"'), 1, _NESTED
)
CASES["huge-nesting-schema"] = Case(
    '{"type": "SCHEMA", "stream": "x", "schema": ' + _DEEP_SCHEMA + "}", 1, _NESTED
)
CASES["huge-nesting-state"] = Case('{"type": "STATE", "value": ' + _DEEP_LIST + "}", 1, _NESTED)
_ASIDE = ("students", "stu-h")
CASES["huge-integer-grade"] = Case(
    record().replace('"grade": "1"', '"grade": ' + "9" * 100_000), 0, aside=_ASIDE
)
CASES["huge-float-grade"] = Case(record().replace('"grade": "1"', '"grade": 1e999999'), 0, aside=_ASIDE)
CASES["huge-negative-grade"] = Case(
    record().replace('"grade": "1"', '"grade": -' + "9" * 5000), 0, aside=_ASIDE
)
CASES["huge-name"] = Case(record(first_name="Zyxwy" + "a" * 1_000_000), 0, lands="stu-h")
CASES["huge-list"] = Case(record(school_ids=["sch1", *(f"s{i}" for i in range(100_000))]), 0, lands="stu-h")
CASES["huge-extra"] = Case(record(extra={f"k{i}": "v" * 10 for i in range(20_000)}), 0, lands="stu-h")
CASES["huge-id"] = Case(record(id="stu-" + "h" * 100_000), 0, lands="stu-" + "h" * 100_000)

# -- control characters -----------------------------------------------------------------------------------
for name, text in {
    "nul": "Zy\u0000xwy",
    "escape-sequence": "\u001b[31mZyxwy\u001b[0m",
    "bell": "Zyxwy\u0007",
    "backspace": "Zyxwy\b\b\b\b\bAdmin",
    "carriage-return": "Zyxwy\rAdmin",
    "newline": "Zyxwy\nERROR forged log line",
    "line-separator": "Zyxwy\u2028next",
    "right-to-left": "\u202eZyxwy",
    "zero-width": "Zy\u200dxwy",
    "delete": "Zyxwy\u007f",
    "c1-control": "Zyxwy\u0085",
    "noncharacter": "Zyxwy\uffff",
    "emoji": "Zyxwy \U0001f600",
    "combining": "Zyxwy" + "\u0301" * 50,
}.items():
    CASES[f"control-name-{name}"] = Case(record(first_name=text), 0, lands="stu-h")
CASES["control-id-nul"] = Case(record(id="stu\u0000h"), 0, lands="stu\u0000h")
CASES["control-id-newline"] = Case(record(id="stu\nh"), 0, lands="stu\nh")
CASES["control-email-escape"] = Case(record(email="zyxwy@example.org\u001b[2J"), 0, lands="stu-h")
CASES["control-lone-surrogate"] = Case(
    record().replace("Zyxwy", "Zyxwy\\ud800"), 1, "is not a valid Singer message"
)

# -- duplicate keys: JSON leaves the meaning open; the line is read one way or refused, and never printed ---
_FIELDS = json.dumps(HOSTILE)[1:-1]


def _dup(before: str, record: str, after: str) -> str:
    """A students RECORD with its ``record`` object, and more fields before and after it."""
    return '{"type": "RECORD", "stream": "students", ' + before + '"record": {' + record + "}" + after + "}"


for name, line in {
    "type-then-schema": _dup("", _FIELDS, ', "type": "SCHEMA"'),
    "type-then-state": _dup("", _FIELDS, ', "type": "STATE"'),
    "stream-then-unknown": _dup("", _FIELDS, ', "stream": "zzz"'),
    "version-then-string": _dup('"version": 1, ', _FIELDS, ', "version": "x"'),
}.items():
    CASES[f"duplicate-{name}"] = Case(line, 1)
for name, line in {
    "type-twice": _dup("", _FIELDS, ', "type": "RECORD"'),
    "record-twice": _dup('"record": {"id": "stu-h"}, ', _FIELDS, ""),
    "stream-twice": _dup("", _FIELDS, ', "stream": "students"'),
    "name-in-record": _dup("", _FIELDS + ', "first_name": "Zyxwy2"', ""),
}.items():
    CASES[f"duplicate-{name}"] = Case(line, 0, lands="stu-h")
CASES["duplicate-id-in-record"] = Case(_dup("", '"id": "stu-x", ' + _FIELDS, ""), 0)

# -- unknown streams --------------------------------------------------------------------------------------
_BEFORE_SCHEMA = "came before the stream's SCHEMA"
for name, line in {
    "record": msg("RECORD", stream="courses", record={"id": "c1"}),
    "activate": msg("ACTIVATE_VERSION", stream="courses", version=1),
    "batch": msg("BATCH", stream="courses", encoding=_JSONL, manifest=[]),
    "huge-name": msg("RECORD", stream="x" * 100_000, record={}),
}.items():
    CASES[f"unknown-stream-{name}"] = Case(line, 1, _BEFORE_SCHEMA)
CASES["unknown-stream-schema-only"] = Case(
    msg("SCHEMA", stream="courses", schema=_SCHEMA, key_properties=[]), 0
)

# -- dangling references and records that break the contract: set aside, the rest applied ------------------
_ENROLLMENT = {"section_id": "sec1", "user_id": "stu2", "role": "student"}
_DANGLING: dict[str, tuple[str, dict[str, Any], str]] = {
    "enrollment-unknown-section": ("enrollments", _ENROLLMENT | {"section_id": "sec-x"}, "sec-x/stu2"),
    "enrollment-unknown-user": ("enrollments", _ENROLLMENT | {"user_id": "usr-x"}, "sec1/usr-x"),
    "enrollment-bad-role": ("enrollments", _ENROLLMENT | {"role": "janitor"}, "sec1/stu2"),
    "contact-link-unknown-contact": (
        "student_contacts",
        {"student_id": "stu1", "contact_id": "con-x"},
        "stu1/con-x",
    ),
    "contact-link-unknown-student": (
        "student_contacts",
        {"student_id": "stu-x", "contact_id": "con1"},
        "stu-x/con1",
    ),
    "section-unknown-school": ("sections", {"id": "sec-x", "school_id": "sch-x", "name": "Ghost"}, "sec-x"),
    "section-no-school": ("sections", {"id": "sec-y", "name": "Nowhere"}, "sec-y"),
    "student-no-id": ("students", {"first_name": "Zyxwy"}, "?"),
    "student-empty-id": ("students", {"id": "", "first_name": "Zyxwy"}, ""),
    "student-bad-date": ("students", {"id": "stu-d", "updated_at": "yesterday"}, "stu-d"),
    "student-school-ids-string": ("students", {"id": "stu-s", "school_ids": "sch1"}, "stu-s"),
    "student-unknown-field": ("students", {"id": "stu-u", "ssn": "000-00-0000"}, "stu-u"),
    "term-bad-dates": ("terms", {"id": "t-x", "start_date": "2026-13-45"}, "t-x"),
}
for name, (stream, values, key) in _DANGLING.items():
    CASES[f"dangling-{name}"] = Case(
        msg("RECORD", stream=stream, record=values, version=1), 0, aside=(stream, key)
    )


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_hostile_singer_message(case: Case, store: Path, tmp_path: Path, capfd: Any) -> None:
    before = runner.store_state(store)

    run = runner.target({"database": str(store)}, case.messages(), capfd, tmp_path)

    assert_clean(run, exit_code=case.exit_code, names=[case.where, case.says] if case.exit_code else [])
    assert_store(store, before, applied=case.exit_code == 0)
    if case.aside:
        assert case.aside in _set_aside(store)
    if case.lands:
        assert _imported(store, case.lands)


def _set_aside(database: Path) -> set[tuple[str, str]]:
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(
            "SELECT stream, record_key FROM run_issues WHERE run_id = (SELECT max(id) FROM runs) "
            "AND severity = 'error'"
        ).fetchall()
    return {(stream, key) for stream, key in rows}


def _imported(database: Path, source_id: str) -> bool:
    with duckdb.connect(str(database), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM person_sources WHERE source_id = ?", [source_id]).fetchone()
    return bool(row and row[0])


def test_the_cases_cover_every_kind_of_hostile_message() -> None:
    kinds = {name.split("-")[0] for name in CASES}
    assert kinds >= {"json", "not", "wrong", "huge", "control", "duplicate", "unknown", "dangling"}
    assert len(CASES) >= 120
