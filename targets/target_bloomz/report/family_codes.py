"""The family codes of a school community's students (students with no imported parent get one), as the
CSV list and the printable letters show them."""

from __future__ import annotations

from typing import Any

import duckdb

from target_bloomz.report.render import FamilyCodeLetter
from target_bloomz.report.rows import dicts

_CODES = """
SELECT p.id AS person_id, p.student_id, p.first_name, p.last_name, coalesce(p.preferred_first_name,
    p.first_name) AS called, p.grade, p.family_code
FROM people p JOIN community_members m ON m.person_id = p.id
WHERE m.community_id = (SELECT id FROM communities WHERE key = $key) AND p.family_code IS NOT NULL
ORDER BY p.last_name, p.first_name, p.id
"""


def of_community(con: duckdb.DuckDBPyConnection, community_key: str) -> list[dict[str, Any]]:
    """The community's students that have a family code, by last and first name: person_id, student_id,
    first_name, last_name, called (the preferred first name, else the first name), grade, family_code."""
    return dicts(con, _CODES, {"key": community_key})


def letter(student: dict[str, Any]) -> FamilyCodeLetter:
    """The printable letter of one row of :func:`of_community`."""
    return FamilyCodeLetter(
        student_name=" ".join(x for x in (student["called"], student["last_name"]) if x),
        code=student["family_code"],
        grade=student["grade"],
    )
