"""Gives every student with no imported parent a family code, once (family_code_format.py makes them).

Runs inside the apply transaction. A code, once stored, is never changed: a printed letter stays valid,
and a student who later gets a parent from the source keeps it.
"""

from __future__ import annotations

import duckdb

from target_bloomz.apply.family_code_format import new_family_code

_WITHOUT_CODE = """
SELECT p.id FROM people p
WHERE p.kind = 'student' AND p.family_code IS NULL
  AND NOT EXISTS (SELECT 1 FROM student_contacts sc WHERE sc.student_id = p.id)
ORDER BY p.id
"""


def assign_family_codes(con: duckdb.DuckDBPyConnection) -> int:
    """Store a new code for each student without a parent and without a code; return how many."""
    ids = [row[0] for row in con.execute(_WITHOUT_CODE).fetchall()]
    if not ids:
        return 0
    taken = {
        row[0]
        for row in con.execute("SELECT family_code FROM people WHERE family_code IS NOT NULL").fetchall()
    }
    codes = []
    for _ in ids:
        code = new_family_code(taken.__contains__)
        taken.add(code)
        codes.append(code)
    con.execute(
        """UPDATE people p SET family_code = c.code
           FROM (SELECT unnest($ids::BIGINT[]) AS id, unnest($codes::VARCHAR[]) AS code) c
           WHERE p.id = c.id""",
        {"ids": ids, "codes": codes},
    )
    return len(ids)
