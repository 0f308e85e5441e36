"""Map: ask the mapping file about each school, section and staff member, and normalise contact details.

The mapping API works on one record at a time (its rules and Jinja2 templates are Python), so this step
runs once per school, section and staff member, and once per e-mail and phone number the store has not
checked before; the answers go back into DuckDB as columns in one statement each (``unnest`` of parallel
lists), so everything about students, contacts and memberships stays set-based in plan.py.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

import duckdb

from target_bloomz.mapping import Mapping, MappingError

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
    _columns_table(
        con, "map_org_problems", {"org_id": ("VARCHAR", problem_ids), "problem": ("VARCHAR", problems)}
    )
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
    _columns_table(
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
    _columns_table(
        con,
        "map_staff",
        {"staff_id": ("VARCHAR", ids), "role": ("VARCHAR", roles), "rule": ("VARCHAR", rules)},
    )


def normalize_contacts(con: duckdb.DuckDBPyConnection, region: str) -> None:
    """``norm_email`` and ``norm_phone`` (raw, value, warning) over the distinct raw values.

    A check's answer depends only on the raw value (and a phone's on the region too), so each value is
    checked once per store: the answers are kept in ``contact_checks``, keyed by the raw value's hash (the
    raw value itself is not kept), and only values not in it are checked. Values of the common shapes are
    answered in SQL (contact_sql), the others in Python (contact_info). The new answers wait in
    ``new_contact_checks`` until ``save_contact_checks`` keeps them in the apply transaction.
    """
    people = ("stg_students", "stg_staff", "stg_contacts")
    con.execute(f"CREATE OR REPLACE TEMP TABLE new_contact_checks ({_CHECK_COLUMNS})")
    known = "contact_checks" if _has_contact_checks(con) else "new_contact_checks"  # a new store: none
    counts = {"email": (0, 0), "phone": (0, 0)}  # field: (by SQL, by Python)
    for field in counts:
        union = " UNION ".join(f"SELECT {field} FROM {table} WHERE {field} IS NOT NULL" for table in people)
        key = {"field": field, "region": region if field == "phone" else ""}  # an e-mail's is any region's
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE distinct_{field} AS "
            f"SELECT raw, sha256(raw) AS raw_hash FROM ({union}) u(raw)"
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE norm_{field} AS SELECT d.raw, k.value, k.warning "
            f"FROM distinct_{field} d JOIN {known} k "
            "ON k.field = $field AND k.region = $region AND k.raw_hash = d.raw_hash",
            key,
        )
        new = con.execute(
            f"SELECT count(*) FROM distinct_{field} ANTI JOIN norm_{field} USING (raw)"
        ).fetchone()
        if new and new[0]:  # a night whose values were all checked before skips the checkers entirely
            counts[field] = _check_new_values(con, field, region)
            con.execute(f"INSERT INTO norm_{field} SELECT raw, value, warning FROM checked_{field}")
            con.execute(
                "INSERT INTO new_contact_checks SELECT $field, $region, raw_hash, value, warning "
                f"FROM checked_{field}",
                key,
            )
            con.execute(f"DROP TABLE checked_{field}")
        con.execute(f"DROP TABLE distinct_{field}")
    log.info(
        "contact checks: %d e-mails and %d phones by the SQL fast path, %d in Python",
        counts["email"][0],
        counts["phone"][0],
        counts["email"][1] + counts["phone"][1],
    )


def _check_new_values(con: duckdb.DuckDBPyConnection, field: str, region: str) -> tuple[int, int]:
    """``checked_<field>(raw, raw_hash, value, warning, answered)`` for the values not in ``norm_<field>``:
    the SQL fast path (a struct: answered, value, warning) answers what it can, Python the rest. Returns
    how many each answered."""
    # Imported here: email-validator and phonenumbers cost every run start-up time, and only a run with
    # values never checked before needs them.
    from target_bloomz.contacts import rules, sql_rules

    if field == "email":
        fast, normalize = sql_rules.email_check("raw"), rules.normalize_email
    else:
        fast = sql_rules.phone_check("raw", region)
        normalize = functools.partial(rules.normalize_phone, region=region)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE checked_{field} AS SELECT raw, raw_hash, fast.value, fast.warning, "
        f"fast.answered FROM (SELECT raw, raw_hash, {fast} AS fast "
        f"FROM distinct_{field} ANTI JOIN norm_{field} USING (raw))"
    )
    sql = f"SELECT raw FROM checked_{field} WHERE NOT answered"
    raws = [row[0] for row in con.execute(sql).fetchall()]
    results = [normalize(raw) for raw in raws]
    _columns_table(
        con,
        f"python_{field}",
        {
            "raw": ("VARCHAR", raws),
            "value": ("VARCHAR", [r.value for r in results]),
            "warning": ("VARCHAR", [r.warning for r in results]),
        },
    )
    con.execute(
        f"UPDATE checked_{field} c SET value = p.value, warning = p.warning "
        f"FROM python_{field} p WHERE c.raw = p.raw; DROP TABLE python_{field}"
    )
    row = con.execute(f"SELECT count(*) FROM checked_{field}").fetchone()
    return (row[0] if row else 0) - len(raws), len(raws)


_CHECK_COLUMNS = (
    "field VARCHAR NOT NULL, region VARCHAR NOT NULL, raw_hash VARCHAR NOT NULL, "
    "value VARCHAR, warning VARCHAR"
)


def _has_contact_checks(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'contact_checks'"
    ).fetchone()
    return bool(row and row[0])


def save_contact_checks(con: duckdb.DuckDBPyConnection) -> None:
    """Keep this run's new e-mail and phone checks in the store (inside the apply transaction).

    The table is made on first use, by an applied run only, so a dry run leaves the store as it was.
    """
    con.execute(f"CREATE TABLE IF NOT EXISTS contact_checks ({_CHECK_COLUMNS})")
    con.execute(
        "INSERT INTO contact_checks SELECT * FROM new_contact_checks n WHERE NOT EXISTS (SELECT 1 "
        "FROM contact_checks c WHERE c.field = n.field AND c.region = n.region AND c.raw_hash = n.raw_hash)"
    )


def run(con: duckdb.DuckDBPyConnection, mapping: Mapping) -> None:
    """Every mapping answer the plan needs, as temp tables."""
    map_schools(con, mapping)
    map_sections(con, mapping)
    map_staff(con, mapping)
    normalize_contacts(con, mapping.options.default_region)
