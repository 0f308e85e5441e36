"""Map: ask the mapping file about each school, section and staff member.

The mapping API works on one record at a time (its rules and Jinja2 templates are Python), so this step
runs once per school, section and staff member; the answers go back into DuckDB as columns in one
statement each (``unnest`` of parallel lists), so everything about students, contacts and memberships
stays set-based in the plan.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import duckdb

from target_bloomz.mapping import Mapping, MappingError
from target_bloomz.rundb import table_from_lists

log = logging.getLogger(__name__)


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


def map_schools(con: duckdb.DuckDBPyConnection, mapping: Mapping) -> None:
    """``map_schools(school_id, community_key, community_name)`` for the schools (and departments) the
    mapping selects, and ``map_org_problems(org_id, problem)`` for departments it cannot place."""
    ids, keys, names = [], [], []
    problem_ids, problems = [], []
    orgs = {
        org["id"]: org
        for org in _records(
            con, "SELECT * EXCLUDE (_deleted_at, _line) FROM stg_schools WHERE _deleted_at IS NULL"
        )
    }
    for org in orgs.values():
        community, problem = mapping.community_of_org(org, orgs)
        if community is not None:
            ids.append(org["id"])
            keys.append(community.key)
            names.append(community.name)
        elif problem is not None:
            problem_ids.append(org["id"])
            problems.append(problem)
    table_from_lists(
        con, "map_org_problems", {"org_id": ("VARCHAR", problem_ids), "problem": ("VARCHAR", problems)}
    )
    table_from_lists(
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
    """``map_sections(section_id, selected, rule, class_name, problem)`` for the sections of selected schools.

    A class name template that fails on one section (``teacher.last_name`` with no teacher) leaves that
    section out with the template's error as ``problem``; the other sections go on.
    """
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
    ids, selected, rules, names, problems = [], [], [], [], []
    sections = _records(
        con,
        "SELECT * EXCLUDE (_deleted_at, _line) FROM stg_sections "
        "WHERE _deleted_at IS NULL AND school_id IN (SELECT school_id FROM map_schools) ORDER BY id",
    )
    for section in sections:
        school = schools.get(section["school_id"]) or {"id": section["school_id"]}  # not resent
        chosen, rule = mapping.section_rule(section, school)
        name, problem = "", None
        if chosen:
            term = next((terms[t] for t in section["term_ids"] if t in terms), None)
            teacher = teachers.get(section["primary_teacher_id"] or "")
            try:
                name = mapping.class_name(section, course=None, teacher=teacher, term=term, school=school)
            except MappingError as err:
                chosen, rule, problem = False, "sections.class_name", str(err)
        ids.append(section["id"])
        selected.append(chosen)
        rules.append(rule)
        names.append(name.strip())
        problems.append(problem)
    table_from_lists(
        con,
        "map_sections",
        {
            "section_id": ("VARCHAR", ids),
            "selected": ("BOOLEAN", selected),
            "rule": ("VARCHAR", rules),
            "class_name": ("VARCHAR", names),
            "problem": ("VARCHAR", problems),
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
    table_from_lists(
        con,
        "map_staff",
        {"staff_id": ("VARCHAR", ids), "role": ("VARCHAR", roles), "rule": ("VARCHAR", rules)},
    )


def run(con: duckdb.DuckDBPyConnection, mapping: Mapping) -> None:
    """Every mapping answer the plan needs, as temp tables."""
    map_schools(con, mapping)
    map_sections(con, mapping)
    map_staff(con, mapping)
