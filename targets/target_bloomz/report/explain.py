"""Explain a person: which source records, which mapping rules and which runs put them where they are.

Reads the store only: the person's source links (``person_sources``), their communities and classes with
the run that added them, and every saved plan row about them (``plan_rows``: entity, action, rule,
reason) with its run's status, plus the run issues naming one of their source ids.
"""

from __future__ import annotations

import duckdb

from target_bloomz.report import lookup
from target_bloomz.report.rows import dicts

_PLAN_ROWS = """
SELECT r.run_id, runs.status, r.entity, r.action, r.target, r.source_stream, r.source_id, r.rule, r.reason
FROM plan_rows r JOIN runs ON runs.id = r.run_id
WHERE (r.target_id = $id AND r.entity IN ('person', 'community_member', 'class_member'))
   OR (r.entity = 'student_contact' AND (r.target_id = $id OR split_part(r.source_id, '/', 2) IN (
       SELECT source_id FROM person_sources WHERE person_id = $id AND kind = 'parent')))
ORDER BY r.run_id, r.seq
"""


def explain(con: duckdb.DuckDBPyConnection, who: str) -> str:
    """The explanation as text; LookupError when ``who`` names no one, or several people (listed)."""
    return _explain_one(con, lookup.person(con, who).id)


def _explain_one(con: duckdb.DuckDBPyConnection, person_id: int) -> str:
    params = {"id": person_id}
    person = dicts(
        con,
        "SELECT kind, registered, family_code IS NOT NULL AS has_code, created_run "
        "FROM people WHERE id = $id",
        params,
    )[0]
    lines = [
        f"Person #{person_id} ({person['kind']}), created by run {person['created_run']}, "
        f"{'registered' if person['registered'] else 'not registered'} in Bloomz"
        + (", has a family code" if person["has_code"] else "")
    ]
    lines.append("Source records:")
    for s in dicts(
        con,
        "SELECT source, kind, source_id, sis_id, first_seen_run FROM person_sources WHERE person_id = $id "
        "ORDER BY first_seen_run, source_id",
        params,
    ):
        sis = f", sis_id {s['sis_id']}" if s["sis_id"] else ""
        lines.append(
            f"  {s['source']} {s['kind']} {s['source_id']}{sis} (first seen in run {s['first_seen_run']})"
        )
    lines.append("Communities:")
    for m in dicts(
        con,
        "SELECT c.key, c.name, m.role, m.role_set_by_hand, m.origin, m.created_run FROM community_members m "
        "JOIN communities c ON c.id = m.community_id WHERE m.person_id = $id ORDER BY c.key",
        params,
    ):
        by_hand = ", role set by hand" if m["role_set_by_hand"] else ""
        lines.append(
            f"  {m['name']} ({m['key']}) as {m['role']}: {m['origin']}, run {m['created_run']}{by_hand}"
        )
    lines.append("Classes:")
    for m in dicts(
        con,
        "SELECT cl.id, cl.name, cl.status, cl.section_id, m.role, m.origin, m.created_run "
        "FROM class_members m JOIN classes cl ON cl.id = m.class_id WHERE m.person_id = $id "
        "ORDER BY cl.name, cl.id",
        params,
    ):
        section = f"section {m['section_id']}" if m["section_id"] else "made in Bloomz"
        lines.append(
            f"  class #{m['id']} {m['name']} ({m['status']}, {section}) as {m['role']}: "
            f"{m['origin']}, run {m['created_run']}"
        )
    lines.append("Links:")
    for link in dicts(
        con,
        "SELECT student_id, contact_id, relationship, type FROM student_contacts "
        "WHERE student_id = $id OR contact_id = $id ORDER BY ALL",
        params,
    ):
        other = link["contact_id"] if link["student_id"] == person_id else link["student_id"]
        what = "parent" if link["student_id"] == person_id else "student"
        lines.append(f"  {what} #{other} ({link['relationship'] or '-'} / {link['type'] or '-'})")
    lines.append("Plan rows (run, action, entity, from which source record, by which rule):")
    for r in dicts(con, _PLAN_ROWS, params):
        why = "; ".join(x for x in (r["rule"], r["reason"]) if x)
        lines.append(
            f"  run {r['run_id']} ({r['status']}): {r['action']} {r['entity']} {r['target']} "
            f"<- {r['source_stream']} {r['source_id']} ({why})"
        )
    issues = dicts(
        con,
        "SELECT run_id, severity, stream, record_key, message FROM run_issues "
        "WHERE record_key IN (SELECT source_id FROM person_sources WHERE person_id = $id) ORDER BY run_id",
        params,
    )
    if issues:
        lines.append("Run issues:")
        lines += [
            f"  run {i['run_id']} {i['severity']}: {i['stream']} {i['record_key']}: {i['message']}"
            for i in issues
        ]
    return "\n".join(lines)
