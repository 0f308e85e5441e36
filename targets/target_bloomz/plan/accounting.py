"""Nobody vanishes: every active person of the source is planned into the store or named in the run's issues.

Run at the end of the plan, over the run's whole picture of the source (the merged ``stg_*`` tables): each
active student, staff member and contact that the plan does not bring into the store, and that no issue of
the run names yet, gets a warning saying why, by source id. Two deliberate choices of the mapping are
named once per group instead of once per person, with how many people they leave out: a school the
mapping does not select (its students, staff, and the contacts of those students), and a contact field
value ``contacts.include`` leaves out. Anyone left that no rule explains is an error asking for a report:
the tests run every fixture through this and expect none.

People the tap itself sends in no stream (a OneRoster user with no role it imports) come with the pull's
finished record (``left_out``, schemas/roster/pull.json): ``keep_left_out`` keeps them with the run's staged
input, and each is named too, by id, with the tap's reason; once three or more share a reason, one more
line says how many (an e-mail listing only its first issues still tells the size).
"""

from __future__ import annotations

import duckdb

from target_bloomz.mapping import Mapping

_MISSING = """
CREATE OR REPLACE TEMP TABLE acc_missing AS
WITH people AS (
    SELECT 'student' AS kind, 'students' AS stream, id,
        list_distinct(list_filter(list_append(school_ids, primary_school_id), lambda o: o IS NOT NULL))
            AS orgs
    FROM stg_students
    UNION ALL SELECT 'staff', 'staff', id, list_distinct(school_ids) FROM stg_staff
    UNION ALL SELECT 'parent', 'contacts', id, []::VARCHAR[] FROM stg_contacts
)
SELECT * FROM people a
WHERE NOT EXISTS (SELECT 1 FROM p_people p WHERE p.kind = a.kind AND p.source_id = a.id)
  AND NOT EXISTS (
      SELECT 1 FROM (SELECT stream, record_key FROM run_issues WHERE run_id = $run
                     UNION ALL SELECT stream, record_key FROM p_issues) i
      WHERE i.stream = a.stream AND i.record_key = a.id)
"""

# Why each missing person is missing: (kind, stream, id, reason, detail). A student or staff member whose
# every org is a school (or department) of the source that the mapping leaves out is left out by choice
# (reason 'school', detail: those orgs); so is a contact whose linked students all are, or whose every link
# has a contact field value the mapping leaves out (reason 'value').
_REASONS = """
CREATE OR REPLACE TEMP TABLE acc_reasons AS
WITH orgs AS (
    SELECT kind, stream, id, unnest(orgs) AS org FROM acc_missing WHERE kind <> 'parent'
), per_person AS (
    SELECT o.kind, o.stream, o.id,
        bool_and(s.id IS NOT NULL AND mp.org_id IS NULL) AS by_choice,
        list(mp.problem ORDER BY o.org) FILTER (WHERE mp.problem IS NOT NULL) AS problems,
        list(o.org ORDER BY o.org) FILTER (WHERE s.id IS NULL) AS unknown
    FROM orgs o
    LEFT JOIN stg_schools s ON s.id = o.org
    LEFT JOIN map_org_problems mp ON mp.org_id = o.org
    GROUP BY o.kind, o.stream, o.id
), people AS (
    SELECT m.kind, m.stream, m.id, m.orgs,
        CASE WHEN p.by_choice THEN 'school'
             WHEN len(p.problems) > 0 THEN 'department'
             WHEN len(m.orgs) = 0 THEN 'no org'
             WHEN len(p.unknown) > 0 THEN 'above school' END AS reason,
        CASE WHEN p.by_choice THEN m.orgs WHEN len(p.problems) > 0 THEN p.problems[:1] ELSE p.unknown END
            AS detail
    FROM acc_missing m LEFT JOIN per_person p USING (kind, stream, id)
    WHERE m.kind <> 'parent'
), links AS (
    SELECT l.contact_id, l.student_id,
        CASE WHEN $contact_field = 'relationship' THEN l.relationship ELSE l.type END AS value,
        lower(CASE WHEN $contact_field = 'relationship' THEN l.relationship ELSE l.type END) IN (
            SELECT lower(unnest($include))) AS included
    FROM stg_student_contacts l
    WHERE l.contact_id IN (SELECT id FROM acc_missing WHERE kind = 'parent')
), contacts AS (
    SELECT m.kind, m.stream, m.id, []::VARCHAR[] AS orgs,
        CASE WHEN count(l.contact_id) = 0 THEN 'no student'
             WHEN NOT bool_or(l.included) THEN 'value'
             WHEN bool_and(NOT l.included OR coalesce(s.reason = 'school', false)) THEN 'school'
             ELSE 'students' END AS reason,
        CASE WHEN count(l.contact_id) = 0 THEN []
             WHEN NOT bool_or(l.included) THEN list(DISTINCT coalesce(l.value, '(empty)'))
             WHEN bool_and(NOT l.included OR coalesce(s.reason = 'school', false)) THEN
                 list_distinct(flatten(list(s.orgs) FILTER (WHERE l.included)))
             ELSE list(DISTINCT l.student_id ORDER BY l.student_id) FILTER (WHERE l.included) END AS detail
    FROM acc_missing m
    LEFT JOIN links l ON l.contact_id = m.id
    LEFT JOIN people s ON s.kind = 'student' AND s.id = l.student_id
    WHERE m.kind = 'parent'
    GROUP BY m.kind, m.stream, m.id
)
SELECT kind, stream, id, reason, detail FROM people
UNION ALL
SELECT kind, stream, id, reason, detail FROM contacts
"""

_NOUN = "CASE kind WHEN 'student' THEN 'student' WHEN 'staff' THEN 'staff member' ELSE 'contact' END"

_ISSUES = f"""
INSERT INTO p_issues
SELECT $run, CASE WHEN reason IS NULL THEN 'error' ELSE 'warning' END, stream, id,
    {_NOUN} || ' not imported: ' || CASE reason
        WHEN 'department' THEN detail[1]
        WHEN 'no org' THEN 'attached to no school, and enrolled in no class of an imported school'
        WHEN 'above school' THEN 'attached to ' || array_to_string(detail, ', ') ||
            ', which is no school or department of the source (a district, say), and enrolled in no class ' ||
            'of an imported school'
        WHEN 'no student' THEN 'no student of the source lists them as a contact'
        WHEN 'students' THEN 'none of their students (' || array_to_string(detail, ', ') || ') is imported'
        ELSE 'no rule of bloomz-sync explains why: please report this with the run'
    END
FROM acc_reasons WHERE reason IS NULL OR reason NOT IN ('school', 'value')
ORDER BY stream, id
"""

# One line per school the mapping leaves out, and per contact field value it leaves out.
_GROUPS = """
INSERT INTO p_issues
SELECT $run, 'warning', 'schools', org,
    'school ' || coalesce(s.name || ' (' || org || ')', org) ||
    ' is not one the mapping imports (communities): ' || string_agg(n || ' ' || what, ', ' ORDER BY what) ||
    ' not imported'
FROM (
    SELECT org, what, count(*) AS n FROM (
        SELECT unnest(detail) AS org,
            CASE kind WHEN 'student' THEN 'student(s)' WHEN 'staff' THEN 'staff member(s)'
                ELSE 'contact(s)' END AS what
        FROM acc_reasons WHERE reason = 'school')
    GROUP BY ALL
) g LEFT JOIN stg_schools s ON s.id = g.org
GROUP BY org, s.name
UNION ALL
SELECT $run, 'warning', 'contacts', NULL,
    'contacts.include leaves out ' || $contact_field || ' ' || value || ': ' || count(*) ||
    ' contact(s) not imported'
FROM (SELECT unnest(detail) AS value FROM acc_reasons WHERE reason = 'value')
GROUP BY value
"""


# The pull's left-out records, kept as staged input (stg_: a held run keeps them, held.py).
_LEFT_OUT_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS stg_left_out "
    '(collection VARCHAR, record_id VARCHAR, "where" VARCHAR, reason VARCHAR, _ord INTEGER)'
)
_GROUP_FROM = 3  # records left out for one reason: from this many, a line with their count too

_LEFT_OUT_ISSUES = """
INSERT INTO p_issues
SELECT $run, 'warning', collection, record_id, message FROM (
    SELECT collection, NULL AS record_id, min(_ord) AS _ord, 0 AS line,
        count(*) || ' ' || collection || ' not imported: ' || reason ||
            ' (each is named by id in this run''s issues)' AS message
    FROM stg_left_out GROUP BY collection, reason HAVING count(*) >= $group_from
    UNION ALL
    SELECT collection, record_id, _ord, 1,
        CASE collection WHEN 'users' THEN 'user' ELSE collection END || ' not imported: ' || reason ||
            ' (' || "where" || ')'
    FROM stg_left_out
) ORDER BY _ord, line
"""


def keep_left_out(con: duckdb.DuckDBPyConnection, left_out: list[dict[str, str]]) -> None:
    """Keep the records the tap left out (the pull's finished record) for the plan to name."""
    con.execute(_LEFT_OUT_TABLE)
    con.execute("DELETE FROM stg_left_out")
    if left_out:  # DuckDB's executemany refuses an empty list
        con.executemany(
            "INSERT INTO stg_left_out VALUES (?, ?, ?, ?, ?)",
            [[r["collection"], r["record_id"], r["where"], r["reason"], n] for n, r in enumerate(left_out)],
        )


def account_for_people(con: duckdb.DuckDBPyConnection, mapping: Mapping, run_id: int) -> None:
    """Name, in the run's issues, every active person of the source the plan does not bring in."""
    params = {"run": run_id}
    filter_params = {"contact_field": mapping.contact_field, "include": list(mapping.contact_include)}
    con.execute(_MISSING, params)
    con.execute(_REASONS, filter_params)
    con.execute(_ISSUES, params)
    con.execute(_GROUPS, params | {"contact_field": mapping.contact_field})
    con.execute("DROP TABLE acc_missing; DROP TABLE acc_reasons")
    con.execute(_LEFT_OUT_TABLE)  # a run held before the pull carried them has none
    con.execute(_LEFT_OUT_ISSUES, params | {"group_from": _GROUP_FROM})
