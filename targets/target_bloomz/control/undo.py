"""Undo: revert an applied run from its journal, row by row, where nothing after it changed the row.

A row is reverted only when it is still exactly as the run left it (its hash is the journal's
``after_hash``): a row a later run or an edit in Bloomz changed is left alone and named in the report. A
class, person or community the run created is deleted only when nothing still refers to it. A family code
stays with its student: a printed letter must stay valid. The run's messages still pending in the outbox
(invitations, status e-mails) are withdrawn; those already sent cannot be unsent and are counted in the
report (a person undo deletes is a new person, with a new id, when a later run re-creates them, so is
invited again). All in one transaction; the run becomes ``undone``.

Neither Meltano's bookmark nor the source mirror (stage/mirror.py) is moved: both say what the source said,
which
undo does not change. So the next night, incremental or full, plans from the source as it is then and
brings back whatever of the run the source still has (with Full Data on, the same removals again).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import duckdb

from plugin_runtime.failures import Failure
from target_bloomz import store

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
    # the link made with its person stays while the person does; a link the run added to an existing
    # person (a churned Clever contact id, plan/churned_contacts.py) goes
    "person_sources": ["SELECT count(*) FROM people WHERE id = $person_id AND created_run = $first_seen_run"],
    "community_sources": ["SELECT count(*) FROM communities WHERE id = $community_id"],
}


# Columns undo never takes back from a row it reverts: a family code, once given, stays valid.
_KEPT = {"people": ("family_code",)}

_SENT = "SELECT count(*) FROM outbox WHERE run_id = $run AND status = 'sent'"
_WITHDRAW = "DELETE FROM outbox WHERE run_id = $run AND status = 'pending'"


class UndoError(Failure, ValueError):
    """The run cannot be undone at all (unknown, not applied)."""


@dataclass
class UndoReport:
    run_id: int
    reverted: int = 0
    not_reverted: list[str] = field(default_factory=list)
    withdrawn: int = 0  # outbox messages of the run that were still pending
    already_sent: int = 0

    def text(self) -> str:
        lines = [f"Run {self.run_id} undone: {self.reverted} changes reverted."]
        if self.not_reverted:
            lines.append(f"{len(self.not_reverted)} changes could not be reverted:")
            lines += [f"  {line}" for line in self.not_reverted]
        lines.append(
            f"Outbox: {self.withdrawn} pending messages of the run withdrawn, "
            f"{self.already_sent} already sent (a sent invitation cannot be unsent)."
        )
        lines.append(
            "Meltano's bookmark and the source mirror are kept: the next sync plans from the source as it "
            "is then, and brings back what of this run the source still has."
        )
        return "\n".join(lines)


def undo(con: duckdb.DuckDBPyConnection, run_id: int) -> UndoReport:
    """Revert ``run_id``; return what was reverted and what could not be."""
    row = con.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()
    if not row:
        raise UndoError(f"no run {run_id}")
    if row[0] != "applied":
        raise UndoError(f"run {run_id} is {row[0]}: only an applied run can be undone")
    entries = con.execute(
        "SELECT table_name, op, row_key, before, after, after_hash FROM journal "
        "WHERE run_id = ? ORDER BY seq",
        [run_id],
    ).fetchall()
    entries.sort(key=lambda e: _ORDER.index(e[0]))
    report = UndoReport(run_id)
    con.execute("BEGIN TRANSACTION")
    try:
        for table, op, row_key, before, after, after_hash in entries:
            problem = _revert(con, run_id, table, op, json.loads(row_key), before, (after, after_hash))
            if problem:
                report.not_reverted.append(f"{table} {row_key}: {problem}")
            else:
                report.reverted += 1
        report.already_sent = _count(con, _SENT, run_id)
        report.withdrawn = _count(con, _WITHDRAW, run_id)
        con.execute(
            "UPDATE runs SET status = 'undone', status_reason = ? WHERE id = ?",
            [f"undone: {report.reverted} reverted, {len(report.not_reverted)} not", run_id],
        )
        store.bump_change_counter(con)
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
    left: tuple[str | None, int | None],
) -> str | None:
    """Revert one journal row; return why it could not be, or None.

    ``left``: the row as the run left it, by its hash (or, in journals of stores before version 9, its
    JSON image); both None for a row the run deleted.
    """
    where = " AND ".join(f"{name} = ${name}" for name in key)
    current = con.execute(f"SELECT to_json(t), hash(t) FROM {table} t WHERE {where}", key).fetchone()
    now, now_hash = current if current else (None, None)
    after, after_hash = left
    as_left = now_hash == after_hash if after_hash is not None else _normal(now) == _normal(after)
    if not as_left:
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
        params = {"id": key.get("id"), **json.loads(now or "{}")}
        for sql in refs:
            used = con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql}).fetchone()
            if used and used[0]:
                return "still in use (members or links added after the run refer to it)"
    con.execute(f"DELETE FROM {table} WHERE {where}", key)
    if op != "insert" and before:
        values = json.loads(before)
        for column in _KEPT.get(table, ()):
            if values.get(column) is None:
                values[column] = json.loads(now or "{}").get(column)
        names = list(values)
        con.execute(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
            [values[n] for n in names],
        )
    return None


def _count(con: duckdb.DuckDBPyConnection, sql: str, run_id: int) -> int:
    """The count a SELECT count(*) gives, or the rows a DELETE removed."""
    row = con.execute(sql, {"run": run_id}).fetchone()
    return int(row[0]) if row else 0


def _normal(row: str | None) -> Any:
    return json.loads(row) if row else None
