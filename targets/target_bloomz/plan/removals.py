"""Removals: what a re-sync takes away (DESIGN.md rules 4, 6, 7), planned set-based after the
planner's tables.

- Full Data: members of synced classes still in the source who are no longer in it leave those classes,
  and synced people no longer in the source leave the community. Staff added to a class by hand stay
  while "Do not override staff assignments" (keep_manual_staff) is on.
- Archive (only with Full Data): synced classes whose section is gone, or no longer selected, are archived.
- Scheduled import: parents (contacts) in synced classes who are not in the source are removed, also those
  added by hand.
- Full Data or scheduled import: a student's link to a parent that the source no longer has (or whose
  contact field value the mapping no longer imports) is removed; a student left with no parent gets a
  family code in the same run (apply/family_codes.py).

Only streams pulled complete may cause a removal: a stream without ACTIVATE_VERSION, with records set
aside, or empty while the store has data for it blocks the removals that depend on it, and the run says so.
A member removed from a class by hand stays removed (planner.py skips them) until a complete pull no longer
has them in that class: then their tombstone is cleared, so the source re-adding them later brings them back.

Output: temp tables ``p_class_archives`` (planned first, plan_archives: an archived class frees its name),
``p_class_member_removals``, ``p_community_member_removals``, ``p_student_contact_removals`` and
``p_tombstones_cleared``, their plan rows (actions archive and remove, into ``p_plan_rows``) and warnings
(``p_issues``); apply/removals.py writes them in apply's transaction.
"""

from __future__ import annotations

from typing import Any

import duckdb

from target_bloomz.mapping import Mapping

# The streams each kind of removal depends on.
_NEEDS = {
    "archive": ("sections",),
    "class_member": ("sections", "enrollments", "students", "staff"),
    "parent": ("sections", "enrollments", "students", "contacts", "student_contacts"),
    "student": ("students",),
    "staff": ("staff",),
    "community_parent": ("students", "contacts", "student_contacts"),
    "student_contact": ("students", "contacts", "student_contacts"),
}

# Whether the store already holds data a stream feeds, in the run's communities: an empty pull of such a
# stream is a failed pull, not "everyone left".
_STORE_HAS = {
    "sections": "SELECT count(*) FROM classes WHERE source = $source "
    "AND community_id IN (SELECT community_id FROM p_communities)",
    "enrollments": "SELECT count(*) FROM class_members m JOIN classes cl ON cl.id = m.class_id "
    "WHERE cl.source = $source AND m.origin = 'sync' AND cl.community_id IN (SELECT community_id FROM "
    "p_communities)",
    "students": "SELECT count(*) FROM community_members WHERE role = 'Student' AND community_id IN "
    "(SELECT community_id FROM p_communities)",
    "staff": "SELECT count(*) FROM community_members m JOIN people p ON p.id = m.person_id WHERE p.kind = "
    "'staff' AND m.community_id IN (SELECT community_id FROM p_communities)",
    "contacts": "SELECT count(*) FROM community_members WHERE role = 'Parent' AND community_id IN "
    "(SELECT community_id FROM p_communities)",
    "student_contacts": "SELECT count(*) FROM community_members WHERE role = 'Parent' AND community_id IN "
    "(SELECT community_id FROM p_communities)",
}

_ARCHIVES = """
CREATE OR REPLACE TEMP TABLE p_class_archives AS
SELECT cl.id AS class_id, cl.section_id, cl.name, c.key AS community_key,
    CASE WHEN ps.section_id IS NULL THEN 'the section is no longer in the source'
         ELSE 'the section is no longer selected by the mapping rule ' || ps.rule END AS reason
FROM classes cl
JOIN communities c ON c.id = cl.community_id
LEFT JOIN p_sections ps ON ps.section_id = cl.section_id
WHERE $archive AND cl.source = $source AND cl.status = 'active'
  AND cl.community_id IN (SELECT community_id FROM p_communities)
  AND (ps.section_id IS NULL OR NOT ps.selected)
"""

# Members of synced classes that are still in the source (archived ones keep their members for a revival).
_CLASS_MEMBER_REMOVALS = """
CREATE OR REPLACE TEMP TABLE p_class_member_removals AS
SELECT m.class_id, m.person_id, m.role, m.origin, p.kind, cl.section_id,
    (SELECT min(source_id) FROM person_sources s WHERE s.person_id = p.id AND s.source = $source)
        AS source_id,
    CASE WHEN p.kind = 'parent' AND NOT $full_data THEN 'scheduled'
         ELSE 'full_data' END AS rule
FROM class_members m
JOIN classes cl ON cl.id = m.class_id
JOIN people p ON p.id = m.person_id
WHERE cl.id IN (SELECT class_id FROM p_classes WHERE live)
  AND NOT EXISTS (SELECT 1 FROM p_class_members w WHERE w.class_id = m.class_id AND w.person_id = m.person_id)
  AND CASE
      WHEN p.kind = 'parent' THEN ($full_data OR $scheduled) AND $parent_ok
      WHEN p.kind = 'staff' AND m.origin = 'manual' AND $keep_manual_staff THEN false
      ELSE $full_data AND $member_ok
  END
"""

_COMMUNITY_MEMBER_REMOVALS = """
CREATE OR REPLACE TEMP TABLE p_community_member_removals AS
SELECT m.community_id, m.person_id, m.role, p.kind, c.key AS community_key,
    (SELECT min(source_id) FROM person_sources s WHERE s.person_id = p.id AND s.source = $source) AS source_id
FROM community_members m
JOIN people p ON p.id = m.person_id
JOIN communities c ON c.id = m.community_id
WHERE $full_data AND m.origin = 'sync'
  AND m.community_id IN (SELECT community_id FROM p_communities)
  AND NOT EXISTS (
      SELECT 1 FROM p_community_members w WHERE w.community_id = m.community_id AND w.person_id = m.person_id)
  AND CASE p.kind WHEN 'student' THEN $student_ok WHEN 'staff' THEN $staff_ok ELSE $community_parent_ok END
"""

# Links of the run's students that the source no longer has, or whose contact field value the mapping no
# longer imports: they follow the source like parents' class memberships (Full Data, or the scheduled
# import); a student left with no link gets a family code in the same transaction.
_STUDENT_CONTACT_REMOVALS = """
CREATE OR REPLACE TEMP TABLE p_student_contact_removals AS
WITH gone AS (
    SELECT sc.student_id, sc.contact_id, sc.relationship, sc.type,
        (SELECT min(source_id) FROM person_sources s
         WHERE s.person_id = sc.student_id AND s.source = $source AND s.kind = 'student')
            AS student_source_id,
        (SELECT list(source_id ORDER BY source_id) FROM person_sources s
         WHERE s.person_id = sc.contact_id AND s.source = $source AND s.kind = 'parent')
            AS contact_source_ids
    FROM student_contacts sc
    WHERE ($full_data OR $scheduled) AND $link_ok
      AND sc.student_id IN (SELECT person_id FROM k_people WHERE kind = 'student'
                            AND source_id IN (SELECT source_id FROM k_student_schools))
      AND NOT EXISTS (SELECT 1 FROM p_student_contacts w
                      WHERE w.student_person_id = sc.student_id AND w.contact_person_id = sc.contact_id)
)
SELECT * EXCLUDE (contact_source_ids), contact_source_ids[1] AS contact_source_id,
    CASE WHEN $full_data THEN 'full_data' ELSE 'scheduled' END AS rule,
    EXISTS (SELECT 1 FROM stg_student_contacts l
            WHERE l._deleted_at IS NULL AND l.student_id = gone.student_source_id
              AND list_contains(gone.contact_source_ids, l.contact_id)) AS filtered_out
FROM gone
"""

# Tombstones (a member removed from a class by hand) of members the complete source no longer has in the
# class: forgotten, so a later re-add in the source brings the person back.
_TOMBSTONES_CLEARED = """
CREATE OR REPLACE TEMP TABLE p_tombstones_cleared AS
SELECT t.class_id, t.person_id
FROM class_member_tombstones t JOIN people p ON p.id = t.person_id
WHERE t.class_id IN (SELECT class_id FROM p_classes WHERE live)
  AND NOT EXISTS (SELECT 1 FROM p_class_members w WHERE w.class_id = t.class_id AND w.person_id = t.person_id)
  AND CASE WHEN p.kind = 'parent' THEN $parent_ok ELSE $member_ok END
"""

_PLAN_ROWS = """
INSERT INTO p_plan_rows
SELECT (SELECT coalesce(max(seq), 0) FROM p_plan_rows) + row_number() OVER (ORDER BY ord, target, source_id),
    entity, action, target_id, target, source_stream, source_id, rule, reason, before, after
FROM (
    SELECT 7 AS ord, 'class' AS entity, 'archive' AS action, class_id AS target_id,
        community_key || ' / ' || name AS target, 'sections' AS source_stream, section_id AS source_id,
        'archive' AS rule, reason, json_object('status', 'active') AS before,
        json_object('status', 'archived') AS after
    FROM p_class_archives
    UNION ALL
    SELECT 8, 'class_member', 'remove', person_id, 'class #' || class_id || ' / ' || kind || ' ' ||
        coalesce(source_id, '#' || person_id),
        CASE kind WHEN 'parent' THEN 'student_contacts' ELSE 'enrollments' END,
        section_id || '/' || coalesce(source_id, '#' || person_id), rule,
        CASE WHEN rule = 'scheduled' THEN 'scheduled import: a contact not in the source for this class'
             ELSE 'Full Data: not in the source for this class' END ||
            CASE WHEN origin = 'manual' THEN ' (added by hand)' ELSE '' END,
        json_object('role', role, 'origin', origin), NULL
    FROM p_class_member_removals
    UNION ALL
    SELECT 9, 'community_member', 'remove', person_id, community_key || ' / ' || kind || ' ' ||
        coalesce(source_id, '#' || person_id),
        CASE kind WHEN 'parent' THEN 'student_contacts' WHEN 'student' THEN 'students' ELSE 'staff' END,
        source_id, 'full_data', 'Full Data: no longer in the source for this school',
        json_object('role', role), NULL
    FROM p_community_member_removals
    UNION ALL
    SELECT 10, 'student_contact', 'remove', student_id,
        'student ' || coalesce(student_source_id, '#' || student_id) || ' / parent ' ||
            coalesce(contact_source_id, '#' || contact_id),
        'student_contacts',
        coalesce(student_source_id, '#' || student_id) || '/' ||
            coalesce(contact_source_id, '#' || contact_id),
        rule,
        CASE WHEN rule = 'scheduled' THEN 'scheduled import: ' ELSE 'Full Data: ' END ||
            CASE WHEN filtered_out THEN 'the contact field value is no longer in contacts.include'
                 ELSE 'the link is no longer in the source' END,
        json_object('relationship', relationship, 'type', type), NULL
    FROM p_student_contact_removals
)
"""


def incomplete_streams(
    con: duckdb.DuckDBPyConnection, source: str, complete_streams: list[str]
) -> dict[str, str]:
    """Streams that may not cause removals this run, each with the reason."""
    rejects = dict(con.execute("SELECT stream, count(*) FROM stg_rejects GROUP BY stream").fetchall())
    reasons = {}
    for stream, store_sql in _STORE_HAS.items():
        received = con.execute(f"SELECT count(*) FROM stg_{stream} WHERE _deleted_at IS NULL").fetchone()
        if stream not in complete_streams:
            reasons[stream] = "it did not close complete (no ACTIVATE_VERSION: an incremental or failed pull)"
        elif rejects.get(stream):
            reasons[stream] = f"{rejects[stream]} of its records were set aside"
        elif received and received[0] == 0 and _scalar(con, store_sql, {"source": source}):
            reasons[stream] = "it came back empty while the store has data for it"
    return reasons


def blocked_streams(con: duckdb.DuckDBPyConnection, mapping: Mapping, run_id: int) -> dict[str, str]:
    """The streams that may not cause removals this run (complete in the run's mirror or not), with why."""
    row = con.execute("SELECT complete_streams FROM runs WHERE id = ?", [run_id]).fetchone()
    return incomplete_streams(con, mapping.source, list(row[0] or []) if row else [])


def _ok(blocked: dict[str, str], need: str) -> bool:
    return not any(stream in blocked for stream in _NEEDS[need])


def plan_archives(con: duckdb.DuckDBPyConnection, mapping: Mapping, blocked: dict[str, str]) -> None:
    """The classes Archive archives this run (p_class_archives): planned before the class names, since an
    archived class frees its name for a section of the same run."""
    options = mapping.options
    archive = options.full_data and options.archive and _ok(blocked, "archive")
    con.execute(_ARCHIVES, {"archive": archive, "source": mapping.source})


def plan(con: duckdb.DuckDBPyConnection, mapping: Mapping, run_id: int, blocked: dict[str, str]) -> None:
    """Plan the run's removals (archives: plan_archives) and save them with the archives as plan rows; say
    which were blocked and why."""
    options = mapping.options

    def ok(need: str) -> bool:
        return _ok(blocked, need)

    params: dict[str, Any] = {
        "source": mapping.source,
        "full_data": options.full_data,
        "scheduled": options.scheduled,
        "keep_manual_staff": options.keep_manual_staff,
        "member_ok": ok("class_member"),
        "parent_ok": ok("parent"),
        "student_ok": ok("student"),
        "staff_ok": ok("staff"),
        "community_parent_ok": ok("community_parent"),
        "link_ok": ok("student_contact"),
    }
    con.execute(
        _CLASS_MEMBER_REMOVALS,
        {
            k: params[k]
            for k in ("source", "full_data", "scheduled", "keep_manual_staff", "member_ok", "parent_ok")
        },
    )
    con.execute(
        _COMMUNITY_MEMBER_REMOVALS,
        {k: params[k] for k in ("source", "full_data", "student_ok", "staff_ok", "community_parent_ok")},
    )
    con.execute(
        _STUDENT_CONTACT_REMOVALS,
        {k: params[k] for k in ("source", "full_data", "scheduled", "link_ok")},
    )
    con.execute(_TOMBSTONES_CLEARED, {k: params[k] for k in ("member_ok", "parent_ok")})
    con.execute(_PLAN_ROWS)
    wanted = [
        name for name, on in (("Full Data", options.full_data), ("Scheduled import", options.scheduled)) if on
    ]
    if wanted:
        for stream, reason in sorted(blocked.items()):
            con.execute(
                "INSERT INTO p_issues VALUES (?, 'warning', ?, NULL, ?)",
                [run_id, stream, f"{' and '.join(wanted)}: no removals from {stream} this run: {reason}"],
            )


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> int:
    row = con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql}).fetchone()
    return int(row[0]) if row else 0
