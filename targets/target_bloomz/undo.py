"""Undo: revert an applied run from its journal, row by row, where nothing after it changed the row.

A row is reverted only when it is still exactly as the run left it (the journal's ``after``): a row a later
run or an edit in Bloomz changed is left alone and named in the report. A class, person or community the
run created is deleted only when nothing still refers to it. All in one transaction; the run becomes
``undone``. Meltano's bookmark is not moved: the next full sync brings the source's view back (with Full
Data on, the same removals again), which is why undo reports instead of guessing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import duckdb

from target_bloomz import journal

# Memberships first, then the entities they point to, then the source links of what was deleted.
_ORDER = (
    "class_members",
    "community_members",
    "student_contacts",
    "classes",
    "people",
    "communities",
    "person_sources",
    "community_sources",
)

# What still refers to a row the undo would delete.
_REFERENCES = {
    "classes": ["SELECT count(*) FROM class_members WHERE class_id = $id"],
    "people": [
        "SELECT count(*) FROM class_members WHERE person_id = $id",
        "SELECT count(*) FROM community_members WHERE person_id = $id",
        "SELECT count(*) FROM student_contacts WHERE student_id = $id OR contact_id = $id",
    ],
    "communities": [
        "SELECT count(*) FROM classes WHERE community_id = $id",
        "SELECT count(*) FROM community_members WHERE community_id = $id",
    ],
    "person_sources": ["SELECT count(*) FROM people WHERE id = $person_id"],
    "community_sources": ["SELECT count(*) FROM communities WHERE id = $community_id"],
}


class UndoError(ValueError):
    """The run cannot be undone at all (unknown, not applied)."""


@dataclass
class UndoReport:
    run_id: int
    reverted: int = 0
    not_reverted: list[str] = field(default_factory=list)

    def text(self) -> str:
        lines = [f"Run {self.run_id} undone: {self.reverted} changes reverted."]
        if self.not_reverted:
            lines.append(f"{len(self.not_reverted)} changes could not be reverted:")
            lines += [f"  {line}" for line in self.not_reverted]
        return "\n".join(lines)


def undo(con: duckdb.DuckDBPyConnection, run_id: int) -> UndoReport:
    """Revert ``run_id``; return what was reverted and what could not be."""
    row = con.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()
    if not row:
        raise UndoError(f"no run {run_id}")
    if row[0] != "applied":
        raise UndoError(f"run {run_id} is {row[0]}: only an applied run can be undone")
    entries = con.execute(
        "SELECT table_name, op, row_key, before, after FROM journal WHERE run_id = ? ORDER BY seq", [run_id]
    ).fetchall()
    entries.sort(key=lambda e: _ORDER.index(e[0]))
    report = UndoReport(run_id)
    con.execute("BEGIN TRANSACTION")
    try:
        for table, op, row_key, before, after in entries:
            problem = _revert(con, run_id, table, op, json.loads(row_key), before, after)
            if problem:
                report.not_reverted.append(f"{table} {row_key}: {problem}")
            else:
                report.reverted += 1
        con.execute(
            "UPDATE runs SET status = 'undone', status_reason = ? WHERE id = ?",
            [f"undone: {report.reverted} reverted, {len(report.not_reverted)} not", run_id],
        )
        journal.count_change(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return report


def _revert(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    table: str,
    op: str,
    key: dict[str, Any],
    before: str | None,
    after: str | None,
) -> str | None:
    """Revert one journal row; return why it could not be, or None."""
    where = " AND ".join(f"{name} = ${name}" for name in key)
    current = con.execute(f"SELECT to_json(t) FROM {table} t WHERE {where}", key).fetchone()
    now = current[0] if current else None
    if _normal(now) != _normal(after):
        later = (
            con.execute(f"SELECT max(updated_run) FROM {table} t WHERE {where}", key).fetchone()
            if table not in ("person_sources", "community_sources") and now
            else None
        )
        if later and later[0] and later[0] > run_id:
            return f"changed again by run {later[0]}"
        return "changed in Bloomz after the run" if now else "deleted in Bloomz after the run"
    if op == "insert":
        refs = _REFERENCES.get(table, [])
        params = {"id": key.get("id"), **json.loads(after or "{}")}
        for sql in refs:
            used = con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql}).fetchone()
            if used and used[0]:
                return "still in use (members or links added after the run refer to it)"
    con.execute(f"DELETE FROM {table} WHERE {where}", key)
    if op != "insert" and before:
        values = json.loads(before)
        names = list(values)
        con.execute(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
            [values[n] for n in names],
        )
    return None


def _normal(row: str | None) -> Any:
    return json.loads(row) if row else None
