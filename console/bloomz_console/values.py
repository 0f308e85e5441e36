"""What the source really holds, for the option screens: read from the district's snapshot (sources.py).

For one school: the counts of the school picker; each Student ID field with sample values and how many
students lack it; both contact fields' values with their counts; the section subjects, types and grades
the filters offer; which sections become classes under a mapping (the engine's own rules and template),
and the class names that collide (the first section, by id, wins: the seed's "only the first class").
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from bloomz_console import engine

ID_FIELDS = {"sis_id": "SIS ID", "student_number": "Student Number", "state_id": "State ID"}
SAMPLES = 3
# One snapshot connection at a time (DuckDB opens a file in one mode per process), and none while a new
# snapshot replaces the old one.
SNAPSHOT_LOCK = threading.Lock()


@contextmanager
def snapshot(path: Path) -> Iterator[duckdb.DuckDBPyConnection | None]:
    if not path.is_file():
        yield None
        return
    with SNAPSHOT_LOCK, duckdb.connect(str(path)) as con:
        yield con


def school_counts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Per school id: sections, students, staff and contacts the source shares."""
    found = engine.rows(
        con,
        """SELECT s.id,
               (SELECT count(*) FROM stg_sections x WHERE x.school_id = s.id) AS sections,
               (SELECT count(*) FROM stg_students x WHERE list_contains(x.school_ids, s.id)) AS students,
               (SELECT count(*) FROM stg_staff x WHERE list_contains(x.school_ids, s.id)) AS staff,
               (SELECT count(DISTINCT c.contact_id) FROM stg_student_contacts c
                JOIN stg_students x ON x.id = c.student_id
                WHERE list_contains(x.school_ids, s.id)) AS contacts
           FROM stg_schools s""",
    )
    return {row.pop("id"): row for row in found}


@dataclass
class SchoolValues:
    students: int = 0
    id_fields: list[dict[str, Any]] = field(default_factory=list)  # field, label, samples, missing
    contact_values: dict[str, list[dict[str, Any]]] = field(
        default_factory=dict
    )  # field -> value, n, imported
    subjects: list[tuple[str, int]] = field(default_factory=list)
    section_types: list[tuple[str, int]] = field(default_factory=list)
    sections: int = 0
    classes: list[dict[str, Any]] = field(default_factory=list)  # section, class name, rule, collides with
    selected: int = 0
    collisions: int = 0
    problems: list[str] = field(default_factory=list)
    admins: list[dict[str, Any]] = field(default_factory=list)

    def count_text(self) -> str:
        """The count under the section filters, on the page and live as the admin changes them."""
        text = f"{self.selected} of {self.sections} sections become classes"
        if self.collisions:
            text += f"; {self.collisions} are left out because their class name is taken"
        return text + "."


def school_values(
    con: duckdb.DuckDBPyConnection, school_id: str, mapping: engine.Mapping | None, key: str
) -> SchoolValues:
    """Everything the option screens show for one school; the class columns need a valid mapping."""
    values = SchoolValues()
    # The school's own students and their contact links shadow the district's for this connection.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE school_students AS SELECT * FROM main.stg_students "
        "WHERE list_contains(school_ids, ?)",
        [school_id],
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stg_student_contacts AS SELECT * FROM main.stg_student_contacts "
        "WHERE student_id IN (SELECT id FROM school_students)"
    )
    values.students = _one(con, "SELECT count(*) FROM school_students")
    for name, label in ID_FIELDS.items():
        samples = [
            row[0]
            for row in con.execute(
                f"SELECT DISTINCT {name} FROM school_students WHERE {name} IS NOT NULL "
                f"ORDER BY 1 LIMIT {SAMPLES}"
            ).fetchall()
        ]
        missing = _one(con, f"SELECT count(*) FROM school_students WHERE {name} IS NULL OR trim({name}) = ''")
        values.id_fields.append({"field": name, "label": label, "samples": samples, "missing": missing})
    for column in ("relationship", "type"):
        values.contact_values[column] = [
            {
                "value": value,
                "count": n,
                "imported": bool(
                    mapping and mapping.contact_field == column and mapping.imports_contact({column: value})
                ),
            }
            for value, n in con.execute(
                f"SELECT {column}, count(*) FROM stg_student_contacts GROUP BY ALL ORDER BY 2 DESC, 1"
            ).fetchall()
        ]
    section_filter = "FROM main.stg_sections WHERE school_id = ? AND _deleted_at IS NULL"
    values.sections = _one(con, f"SELECT count(*) {section_filter}", [school_id])
    for target, column in ((values.subjects, "subject"), (values.section_types, "section_type")):
        target.extend(
            con.execute(
                f"SELECT coalesce({column}, ''), count(*) {section_filter} GROUP BY ALL ORDER BY 2 DESC, 1",
                [school_id],
            ).fetchall()
        )
    values.admins = engine.rows(
        con,
        """SELECT concat_ws(' ', first_name, last_name) AS name, email, roles FROM main.stg_staff
           WHERE email IS NOT NULL AND (list_contains(roles, 'district_admin')
               OR (list_contains(roles, 'school_admin') AND list_contains(school_ids, ?)))
           ORDER BY last_name, first_name""",
        [school_id],
    )
    if mapping is not None:
        _classes(con, values, mapping, school_id, key)
    return values


def _classes(
    con: duckdb.DuckDBPyConnection, values: SchoolValues, mapping: engine.Mapping, school_id: str, key: str
) -> None:
    engine.map_sections(con, mapping, school_id, key)
    values.classes = engine.rows(
        con,
        """SELECT m.section_id, s.name AS section, m.selected, m.rule, m.class_name, m.problem,
               CASE WHEN m.selected AND m.class_name <> ''
                    THEN first_value(m.section_id) OVER w END AS holder,
               CASE WHEN m.selected AND m.class_name <> '' THEN first_value(s.name) OVER w END AS holder_name
           FROM map_sections m JOIN main.stg_sections s ON s.id = m.section_id
           WINDOW w AS (PARTITION BY m.selected AND m.class_name <> '', lower(trim(m.class_name))
                        ORDER BY m.section_id)
           ORDER BY NOT m.selected, lower(m.class_name), m.section_id""",
    )
    for row in values.classes:
        row["collides"] = row["holder"] is not None and row["holder"] != row["section_id"]
    values.selected = sum(1 for row in values.classes if row["selected"] and not row["collides"])
    values.collisions = sum(1 for row in values.classes if row["collides"])
    values.problems = sorted({row["problem"] for row in values.classes if row["problem"]})


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row else 0
