"""Parents who stay the same person when Clever gives their contact record a new id.

A Clever contact without ``sis_id`` is deleted and re-created under a new id whenever the district edits
it. Before the plan decides who is new, :func:`match_churned_contacts` looks at each contact the store
has never seen that has no ``sis_id``: when one of its students is already linked to a parent with the
same normalised e-mail or phone, and that parent's own contact ids are gone from this pull, the new id is
the same parent. The plan treats it as that person (no new account, no new invitation), apply records the
new id as another source link of the person, and the run reports the match by ids only.
"""

from __future__ import annotations

import duckdb

# Needs w_people (normalised contact details) and w_links (student links) of plan/planner.py.
_MATCHES = """
CREATE OR REPLACE TEMP TABLE p_contact_matches AS
WITH candidates AS (
    SELECT w.source_id, p.id AS person_id, l.student_id,
        CASE WHEN w.email IS NOT NULL AND w.email = p.email THEN 'e-mail' ELSE 'phone' END AS matched_by,
        (SELECT string_agg(o.source_id, ', ' ORDER BY o.source_id) FROM person_sources o
         WHERE o.person_id = p.id AND o.source = $source AND o.kind = 'parent') AS old_ids
    FROM w_people w
    JOIN w_links l ON l.contact_id = w.source_id
    JOIN person_sources st ON st.source = $source AND st.kind = 'student' AND st.source_id = l.student_id
    JOIN student_contacts sc ON sc.student_id = st.person_id
    JOIN people p ON p.id = sc.contact_id AND p.kind = 'parent'
    WHERE w.kind = 'parent' AND coalesce(w.sis_id, '') = ''
      AND ((w.email IS NOT NULL AND w.email = p.email) OR (w.phone IS NOT NULL AND w.phone = p.phone))
      AND NOT EXISTS (SELECT 1 FROM person_sources ps
                      WHERE ps.source = $source AND ps.kind = 'parent' AND ps.source_id = w.source_id)
      -- every known contact id of the parent must be gone: deleted in this pull, or absent from a complete
      -- one (an incremental pull that does not resend a contact says nothing about it): two live contacts
      -- are two people, even when they share a family e-mail
      AND NOT EXISTS (SELECT 1 FROM person_sources o
                      WHERE o.person_id = p.id AND o.source = $source AND o.kind = 'parent'
                        AND o.source_id NOT IN (SELECT id FROM stg_contacts WHERE _deleted_at IS NOT NULL)
                        AND (NOT $complete OR o.source_id IN (SELECT id FROM stg_contacts)))
    QUALIFY row_number() OVER (PARTITION BY w.source_id ORDER BY p.id, l.student_id) = 1
)
-- one new id per parent: should two new contacts both match, the lowest id wins, the other is new
SELECT * FROM candidates QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY source_id) = 1
"""

_REPORT = """
INSERT INTO p_issues
SELECT $run, 'warning', 'contacts', source_id,
    'matched to existing parent #' || person_id || ' (contact id ' || old_ids || ' before): same student ' ||
    student_id || ' and same ' || matched_by || '; no new account, no new invitation'
FROM p_contact_matches
"""


def match_churned_contacts(con: duckdb.DuckDBPyConnection, source: str, run_id: int) -> int:
    """Fill ``p_contact_matches(source_id, person_id, student_id, matched_by, old_ids)``; return the count."""
    row = con.execute(
        "SELECT coalesce(list_contains(complete_streams, 'contacts'), false) FROM runs WHERE id = ?", [run_id]
    ).fetchone()
    con.execute(_MATCHES, {"source": source, "complete": bool(row and row[0])})
    row = con.execute("SELECT count(*) FROM p_contact_matches").fetchone()
    return int(row[0]) if row else 0


def report_matches(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """One warning per match in the run's issues, naming ids only."""
    con.execute(_REPORT, {"run": run_id})
