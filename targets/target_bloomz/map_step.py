"""Map: ask the mapping file about each school, section and staff member, and normalise contact details.

The mapping API works on one record at a time (its rules and Jinja2 templates are Python), so this step
runs once per school, section and staff member, and once per distinct e-mail and phone number; the
answers go back into DuckDB as columns in one statement each (``unnest`` of parallel lists), so everything
about students, contacts and memberships stays set-based in plan.py.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from target_bloomz.contact_info import normalize_email, normalize_phone
from target_bloomz.mapping import Mapping


def _records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    rows = []
    for values in cursor.fetchall():
        record = dict(zip(names, values, strict=True))
        if isinstance(record.get("extra"), str):
            record["extra"] = json.loads(record["extra"])
        rows.append(record)
    return rows


def _columns_table(
    con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, tuple[str, list[Any]]]
) -> None:
    """Create a temp table from parallel Python lists: {column: (sql type, values)}."""
    select = ", ".join(f"unnest(${name}::{sql_type}[]) AS {name}" for name, (sql_type, _) in columns.items())
    first = next(iter(columns.values()))[1]
    if not first:
        select = ", ".join(f"NULL::{sql_type} AS {name}" for name, (sql_type, _) in columns.items())
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {select} WHERE false")
        return
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {select}",
        {name: values for name, (_, values) in columns.items()},
    )


def map_schools(con: duckdb.DuckDBPyConnection, mapping: Mapping) -> None:
    """``map_schools(school_id, community_key, community_name)`` for the schools the mapping selects."""
    ids, keys, names = [], [], []
    for school in _records(
        con, "SELECT * EXCLUDE (_deleted_at, _line) FROM stg_schools WHERE _deleted_at IS NULL"
    ):
        community = mapping.community_for(school)
        if community is not None:
            ids.append(school["id"])
            keys.append(community.key)
            names.append(community.name)
    _columns_table(
        con,
        "map_schools",
        {
            "school_id": ("VARCHAR", ids),
            "community_key": ("VARCHAR", keys),
            "community_name": ("VARCHAR", names),
        },
    )
    # An incremental pull may not resend a school: it stays in the community an earlier run mapped it to.
    con.execute(
        """INSERT INTO map_schools
           SELECT cs.school_id, c.key, c.name
           FROM community_sources cs JOIN communities c ON c.id = cs.community_id
           WHERE cs.source = ? AND cs.school_id NOT IN (SELECT id FROM stg_schools)""",
        [mapping.source],
    )


def map_sections(con: duckdb.DuckDBPyConnection, mapping: Mapping) -> None:
    """``map_sections(section_id, selected, rule, class_name)`` for the sections of selected schools."""
    schools = {s["id"]: s for s in _records(con, "SELECT * EXCLUDE (_deleted_at, _line) FROM stg_schools")}
    teachers = {
        s["id"]: s
        for s in _records(
            con,
            "SELECT * EXCLUDE (_deleted_at, _line) FROM stg_staff "
            "WHERE id IN (SELECT primary_teacher_id FROM stg_sections)",
        )
    }
    terms = {t["id"]: t for t in _records(con, "SELECT * EXCLUDE (_deleted_at, _line) FROM stg_terms")}
    ids, selected, rules, names = [], [], [], []
    sections = _records(
        con,
        "SELECT * EXCLUDE (_deleted_at, _line) FROM stg_sections "
        "WHERE _deleted_at IS NULL AND school_id IN (SELECT school_id FROM map_schools) ORDER BY id",
    )
    for section in sections:
        school = schools.get(section["school_id"]) or {"id": section["school_id"]}  # not resent
        chosen, rule = mapping.section_rule(section, school)
        name = ""
        if chosen:
            term = next((terms[t] for t in section["term_ids"] if t in terms), None)
            teacher = teachers.get(section["primary_teacher_id"] or "")
            name = mapping.class_name(section, course=None, teacher=teacher, term=term, school=school).strip()
        ids.append(section["id"])
        selected.append(chosen)
        rules.append(rule)
        names.append(name)
    _columns_table(
        con,
        "map_sections",
        {
            "section_id": ("VARCHAR", ids),
            "selected": ("BOOLEAN", selected),
            "rule": ("VARCHAR", rules),
            "class_name": ("VARCHAR", names),
        },
    )


def map_staff(con: duckdb.DuckDBPyConnection, mapping: Mapping) -> None:
    """``map_staff(staff_id, role, rule)``: the community role the mapping gives each staff member."""
    ids, roles, rules = [], [], []
    for staff in _records(
        con, "SELECT * EXCLUDE (_deleted_at, _line) FROM stg_staff WHERE _deleted_at IS NULL"
    ):
        role, rule = mapping.staff_role_rule(staff)
        ids.append(staff["id"])
        roles.append(role)
        rules.append(rule)
    _columns_table(
        con,
        "map_staff",
        {"staff_id": ("VARCHAR", ids), "role": ("VARCHAR", roles), "rule": ("VARCHAR", rules)},
    )


def normalize_contacts(con: duckdb.DuckDBPyConnection, region: str) -> None:
    """``norm_email`` and ``norm_phone`` (raw, value, warning) over the distinct raw values."""
    people = ("stg_students", "stg_staff", "stg_contacts")
    for field, normalize in (
        ("email", normalize_email),
        ("phone", lambda raw: normalize_phone(raw, region)),
    ):
        union = " UNION ".join(f"SELECT {field} FROM {table} WHERE {field} IS NOT NULL" for table in people)
        raws = [row[0] for row in con.execute(union).fetchall()]
        results = [normalize(raw) for raw in raws]
        _columns_table(
            con,
            f"norm_{field}",
            {
                "raw": ("VARCHAR", raws),
                "value": ("VARCHAR", [r.value for r in results]),
                "warning": ("VARCHAR", [r.warning for r in results]),
            },
        )


def run(con: duckdb.DuckDBPyConnection, mapping: Mapping) -> None:
    """Every mapping answer the plan needs, as temp tables."""
    map_schools(con, mapping)
    map_sections(con, mapping)
    map_staff(con, mapping)
    normalize_contacts(con, mapping.options.default_region)
