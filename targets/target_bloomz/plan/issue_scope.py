"""Which school communities each error and warning of a run concerns, so each school's status lists its own.

Run at the end of the plan, while the run's staged input and the plan's temp tables are still there: an
issue about a record gets the community keys that record belongs to (``run_issues.communities``), through
the mapping's community of each school. A section or term belongs to its school; a student or staff
member to their schools (a student in two schools concerns both); a contact to its students' schools; an
enrollment to its section's school (its user's, when the section is unknown); a student-contact link to
its student's schools (its contact's, when the student is unknown). A record set aside is read as it was
received. An issue that names no record, or whose record leads to no community of the run, keeps NULL:
it is run-level, shown to every community of the run.
"""

from __future__ import annotations

import duckdb

# Needs stg_* and map_schools (stage/staging.py, mapping/answers.py) and p_sections, k_student_schools,
# w_staff_schools
# (plan/planner.py). Every statement is set-based: one UPDATE for the whole run.
_RESOLVE = """
UPDATE run_issues i SET communities = r.communities
FROM (
    WITH keys AS (
        SELECT DISTINCT stream, record_key FROM run_issues
        WHERE run_id = $run AND communities IS NULL AND record_key IS NOT NULL
    ), rejected AS (
        SELECT DISTINCT k.stream, k.record_key, r.json
        FROM keys k JOIN stg_rejects r USING (stream, record_key) WHERE r.json IS NOT NULL
    ), enrollments AS (
        SELECT stream, record_key, json ->> '$.section_id' AS section_id, json ->> '$.user_id' AS user_id
        FROM rejected WHERE stream = 'enrollments'
        UNION ALL
        SELECT k.stream, k.record_key, e.section_id, e.user_id
        FROM keys k JOIN stg_enrollments e ON k.stream = 'enrollments'
            AND k.record_key = e.section_id || '/' || e.user_id
    ), links AS (
        SELECT stream, record_key, json ->> '$.student_id' AS student_id,
            json ->> '$.contact_id' AS contact_id
        FROM rejected WHERE stream = 'student_contacts'
        UNION ALL
        SELECT k.stream, k.record_key, l.student_id, l.contact_id
        FROM keys k JOIN stg_student_contacts l ON k.stream = 'student_contacts'
            AND k.record_key = l.student_id || '/' || l.contact_id
    ), pointers AS (
        -- (issue, rank, kind, id): what the issue's record points at; only the best rank that resolves counts
        SELECT stream, record_key, 1 AS rank,
            CASE stream WHEN 'schools' THEN 'school' WHEN 'terms' THEN 'term' WHEN 'sections' THEN 'section'
                WHEN 'students' THEN 'student' WHEN 'staff' THEN 'staff' ELSE 'contact' END AS kind,
            record_key AS id
        FROM keys WHERE stream IN ('schools', 'terms', 'sections', 'students', 'staff', 'contacts')
        UNION ALL  -- a record set aside names its schools as received
        SELECT stream, record_key, 1, 'school', unnest(
            [json ->> '$.school_id', json ->> '$.primary_school_id'] ||
            CASE WHEN json_type(json, '$.school_ids') = 'ARRAY'
                 THEN json_extract_string(json, '$.school_ids[*]') ELSE [] END)
        FROM rejected WHERE stream IN ('terms', 'sections', 'students', 'staff')
        UNION ALL
        SELECT stream, record_key, 1, 'section', section_id FROM enrollments
        UNION ALL
        SELECT stream, record_key, 2, unnest(['student', 'staff']), user_id FROM enrollments
        UNION ALL
        SELECT stream, record_key, 1, 'student', student_id FROM links
        UNION ALL
        SELECT stream, record_key, 2, 'contact', contact_id FROM links
    ), belongs AS (
        -- (kind, id, community): the run's mapped and planned communities of each record
        SELECT 'school' AS kind, school_id AS id, community_key FROM map_schools
        UNION ALL
        SELECT 'term', t.id, m.community_key FROM stg_terms t JOIN map_schools m ON m.school_id = t.school_id
        UNION ALL
        SELECT 'section', section_id, community_key FROM p_sections
        UNION ALL
        SELECT 'student', source_id, community_key FROM k_student_schools
        UNION ALL
        SELECT 'staff', source_id, community_key FROM w_staff_schools
        UNION ALL
        SELECT DISTINCT 'contact', l.contact_id, s.community_key
        FROM stg_student_contacts l JOIN k_student_schools s ON s.source_id = l.student_id
    ), resolved AS (
        SELECT p.stream, p.record_key, p.rank, b.community_key,
            min(p.rank) OVER (PARTITION BY p.stream, p.record_key) AS best
        FROM pointers p JOIN belongs b ON b.kind = p.kind AND b.id = p.id
    )
    SELECT stream, record_key, list(DISTINCT community_key ORDER BY community_key) AS communities
    FROM resolved WHERE rank = best GROUP BY stream, record_key
) r
WHERE i.run_id = $run AND i.communities IS NULL AND i.stream = r.stream AND i.record_key = r.record_key
"""


def resolve(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """Give each record issue of the run the community keys its record belongs to."""
    # A run held before store version 6 kept its set-aside records without their JSON (plan/artifact.py).
    con.execute("ALTER TABLE stg_rejects ADD COLUMN IF NOT EXISTS json JSON")
    con.execute(_RESOLVE, {"run": run_id})
