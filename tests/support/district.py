"""A small hand-made district as standard roster records, and helpers to run target-bloomz on it.

The records follow the contract (schemas/roster/); every test builds its own variant of ``district()``.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from roster_streams import contract

TARGET = str(Path(sys.executable).with_name("target-bloomz"))


# The store's tables about the district itself (not about runs): what a re-import must leave as it was.
DISTRICT_TABLES = (
    "communities",
    "classes",
    "people",
    "person_sources",
    "community_members",
    "class_members",
    "student_contacts",
)


def district() -> dict[str, list[dict[str, Any]]]:
    """Lincoln Elementary (sch1) and Jefferson Middle (sch2); sections 'Homeroom - Smith' twice in sch1."""
    return {
        "schools": [
            {"id": "sch1", "name": "Lincoln Elementary", "high_grade": "5"},
            {"id": "sch2", "name": "Jefferson Middle", "high_grade": "8"},
        ],
        "terms": [{"id": "t1", "name": "Fall", "start_date": "2026-08-20", "end_date": "2026-12-20"}],
        "staff": [
            {
                "id": "tea1",
                "school_ids": ["sch1"],
                "roles": ["teacher"],
                "first_name": "Ann",
                "last_name": "Smith",
                "email": "Ann.Smith@Example.org",
            },
            {
                "id": "tea2",
                "school_ids": ["sch2"],
                "roles": ["teacher"],
                "first_name": "Bob",
                "last_name": "Jones",
            },
            {
                "id": "adm1",
                "school_ids": ["sch1", "sch2"],
                "roles": ["school_admin"],
                "first_name": "Cy",
                "last_name": "Boss",
                "title": "Principal",
            },
        ],
        "sections": [
            {
                "id": "sec1",
                "school_id": "sch1",
                "name": "Homeroom - Smith",
                "primary_teacher_id": "tea1",
                "term_ids": ["t1"],
                "grades": ["1"],
            },
            {
                "id": "sec2",
                "school_id": "sch1",
                "name": "Homeroom - Smith",
                "primary_teacher_id": "tea1",
                "term_ids": ["t1"],
                "grades": ["1"],
            },
            {
                "id": "sec3",
                "school_id": "sch2",
                "name": "Math 7",
                "primary_teacher_id": "tea2",
                "term_ids": ["t1"],
            },
        ],
        "students": [
            {
                "id": "stu1",
                "school_ids": ["sch1"],
                "sis_id": "S-1",
                "student_number": "N-1",
                "first_name": "Dee",
                "last_name": "Lee",
                "grade": "1",
            },
            {
                "id": "stu2",
                "school_ids": ["sch1"],
                "sis_id": "S-2",
                "student_number": "N-2",
                "first_name": "Eve",
                "last_name": "Lee",
                "grade": "1",
            },
            {
                "id": "stu3",
                "school_ids": ["sch2"],
                "sis_id": "S-3",
                "student_number": "N-3",
                "first_name": "Fay",
                "last_name": "Lee",
                "grade": "7",
                "phone": "(312) 555-0142",
            },
        ],
        "contacts": [
            {
                "id": "con1",
                "first_name": "Gus",
                "last_name": "Lee",
                "email": "gus@example.org",
                "phone": "312-555-0199",
            },
            {"id": "con2", "last_name": "Hal Lee"},
            {"id": "con3", "last_name": "Ida Emergency"},
        ],
        "student_contacts": [
            # Gus is the parent of students in both schools: one person, in two communities.
            {"student_id": "stu1", "contact_id": "con1", "relationship": "Parent", "type": "Parent/Guardian"},
            {"student_id": "stu3", "contact_id": "con1", "relationship": "Parent", "type": "Parent/Guardian"},
            {"student_id": "stu2", "contact_id": "con2", "relationship": "Grandparent", "type": "Family"},
            {"student_id": "stu2", "contact_id": "con3", "relationship": "Other", "type": "Emergency"},
        ],
        "enrollments": [
            {"section_id": "sec1", "user_id": "stu1", "role": "student"},
            {"section_id": "sec1", "user_id": "tea1", "role": "teacher", "primary": True},
            {"section_id": "sec2", "user_id": "stu2", "role": "student"},
            {"section_id": "sec3", "user_id": "stu3", "role": "student"},
            {"section_id": "sec3", "user_id": "tea2", "role": "teacher", "primary": True},
        ],
    }


def pull_messages(event: str, **fields: Any) -> list[dict[str, Any]]:
    """The pull stream's messages a tap writes (roster_streams/pull.py): its SCHEMA with ``started``."""
    record = {"pull_id": "test-pull", "event": event, "at": "2026-11-23T02:00:00Z", **fields}
    schema = contract.load_schema(contract.PULL)
    head = [{"type": "SCHEMA", "stream": "pull", "schema": schema, "key_properties": ["pull_id", "event"]}]
    return [*(head if event == "started" else []), {"type": "RECORD", "stream": "pull", "record": record}]


def pull_frame(
    records: dict[str, list[dict[str, Any]]],
    *,
    activate: bool = True,
    pull: str | None = "finished",
    source: str = "clever",
    tenant: str | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The pull messages a tap writes before its streams and after them, for these records.

    ``pull``: "finished" (a pull that ended normally), "started" (one cut short after its last record), or
    None (no pull records at all).
    """
    if pull is None:
        return [], []
    mode = "full" if activate else "incremental"
    head = pull_messages("started", source=source, tenant=tenant, mode=mode, tap=f"tap-{source}")
    if pull != "finished":
        return head, []
    streams = {
        stream: {"records": len(rows), "complete": activate}
        for stream, rows in records.items()
        if stream in contract.STREAMS
    }
    return head, pull_messages("finished", streams=streams, unreadable=[], failed={}, not_provided=[])


def singer_lines(
    records: dict[str, list[dict[str, Any]]],
    *,
    state: dict | None = None,
    activate: bool = True,
    pull: str | None = "finished",
    source: str = "clever",
    tenant: str | None = None,
) -> str:
    """Singer messages for the records, as a tap writes them: the pull's started record, then per stream
    SCHEMA, RECORDs and ACTIVATE_VERSION, then STATE and the pull's finished record (``pull_frame``)."""
    head, tail = pull_frame(records, activate=activate, pull=pull, source=source, tenant=tenant)
    lines: list[dict[str, Any]] = [*head]
    for stream, rows in records.items():
        lines.append(
            {
                "type": "SCHEMA",
                "stream": stream,
                "schema": contract.load_schema(stream),
                "key_properties": contract.key_properties(stream),
            }
        )
        # A full pull's records carry its table version, a delta's none (as tap-clever's events).
        version = {"version": 1} if activate else {}
        lines += [{"type": "RECORD", "stream": stream, "record": row, **version} for row in rows]
        if activate:
            lines.append({"type": "ACTIVATE_VERSION", "stream": stream, "version": 1})
    lines.append({"type": "STATE", "value": state or {"bookmarks": {"run": "1"}}})
    lines += tail
    return "".join(json.dumps(line) + "\n" for line in lines)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    states: list[dict] = field(default_factory=list)


def run_target(config: dict[str, Any], messages: str, tmp_path: Path) -> Result:
    """Run the real target-bloomz executable on ``messages``; return its exit code, output and STATE lines."""
    config_file = tmp_path / f"config-{os.urandom(4).hex()}.json"
    config_file.write_text(json.dumps(config))
    done = subprocess.run(
        [TARGET, "--config", str(config_file)],
        input=messages,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    states = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return Result(done.returncode, done.stdout, done.stderr, states)


def query(database: Path, sql: str, params: list[Any] | None = None) -> list[tuple]:
    """Rows of a query against the store, read-only."""
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def import_in_process(config: dict[str, Any], messages: str) -> None:
    """Run target-bloomz in this process on ``messages`` (for tests about the import, not the executable)."""
    from target_bloomz.target import TargetBloomz

    TargetBloomz(config=config).listen(io.StringIO(messages))


def unaccounted(database: Path, people: dict[str, set[str]]) -> dict[str, set[str]]:
    """Of the source's active people (``people``: students, staff, contacts → source ids), those the
    store does not hold as that kind and the last run's issues do not name: nobody should be here."""
    kinds = {"students": "student", "staff": "staff", "contacts": "parent"}
    stored = set(query(database, "SELECT kind, source_id FROM person_sources"))
    named = set(
        query(
            database,
            "SELECT stream, record_key FROM run_issues WHERE run_id = (SELECT max(id) FROM runs) "
            "AND record_key IS NOT NULL",
        )
    )
    return {
        stream: missing
        for stream, ids in people.items()
        if (missing := {i for i in ids if (kinds[stream], i) not in stored and (stream, i) not in named})
    }


def seats(database: Path) -> set[tuple[str, str, str]]:
    """(section id, source id, class role) of every class member."""
    return set(
        query(
            database,
            """SELECT cl.section_id, ps.source_id, m.role FROM class_members m
               JOIN classes cl ON cl.id = m.class_id
               JOIN person_sources ps ON ps.person_id = m.person_id""",
        )
    )
