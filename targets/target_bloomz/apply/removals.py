"""Write the archives and removals the plan decided (plan/removals.py), inside apply's transaction."""

from __future__ import annotations

import duckdb

_APPLY = [
    """UPDATE classes SET status = 'archived', archived_at = now(), updated_run = $run
       WHERE id IN (SELECT class_id FROM p_class_archives)""",
    """DELETE FROM class_members m USING p_class_member_removals r
       WHERE m.class_id = r.class_id AND m.person_id = r.person_id""",
    """DELETE FROM community_members m USING p_community_member_removals r
       WHERE m.community_id = r.community_id AND m.person_id = r.person_id""",
    """DELETE FROM student_contacts s USING p_student_contact_removals r
       WHERE s.student_id = r.student_id AND s.contact_id = r.contact_id""",
    """DELETE FROM class_member_tombstones t USING p_tombstones_cleared c
       WHERE t.class_id = c.class_id AND t.person_id = c.person_id""",
]


def apply_removals(con: duckdb.DuckDBPyConnection, run_id: int) -> None:
    """Write the planned archives and removals (called inside apply's transaction)."""
    for sql in _APPLY:
        con.execute(sql, {"run": run_id} if "$run" in sql else {})
