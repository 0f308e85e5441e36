"""The Bulk Import Status: a run as the admins read it, and its e-mail to the "Notify to" roles.

:func:`run_summary` reads one run from the store for one school community (the counts of that community's
classes, students, parents and staff added, updated, removed and archived; the errors and warnings about
its records and the run-level ones, not another school's; why a run was held or failed; the options; the
invitations queued). :func:`queue_status_emails` puts one e-mail per run and admin into the outbox, for
every run status it is called for (applied, held, failed; a dry run sends nothing).
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from target_bloomz.outbox import enqueue_many, status_message
from target_bloomz.report.render import Issue, RunSummary, render_status_email

# Plan rows counted for one community, as (what, action label, distinct ids).
_COUNTS = """
WITH r AS (
    SELECT entity, action, target_id, target,
        regexp_extract(target, '(student|parent|staff) [^/]*$', 1) AS kind,
        CASE action WHEN 'create' THEN 'added' WHEN 'update' THEN 'updated' WHEN 'reactivate' THEN 'updated'
             WHEN 'remove' THEN 'removed' WHEN 'archive' THEN 'archived' END AS label
    FROM plan_rows WHERE run_id = $run AND action <> 'skip'
), scoped AS (
    SELECT 'classes' AS what, label, target_id FROM r
    WHERE entity = 'class' AND starts_with(target, $key || ' / ')
    UNION ALL
    SELECT kind, label, target_id FROM r
    WHERE entity = 'community_member' AND starts_with(target, $key || ' / ')
    UNION ALL
    SELECT kind, label, target_id FROM r
    WHERE entity = 'person' AND action <> 'create' AND target_id IN (
        SELECT m.person_id FROM community_members m JOIN communities c ON c.id = m.community_id
        WHERE c.key = $key)
    UNION ALL
    SELECT kind, label, target_id FROM r
    WHERE entity = 'class_member' AND action = 'remove' AND TRY_CAST(
        regexp_extract(target, '^class #([0-9]+)', 1) AS BIGINT) IN (
        SELECT cl.id FROM classes cl JOIN communities c ON c.id = cl.community_id WHERE c.key = $key)
)
SELECT CASE what WHEN 'classes' THEN 'classes' WHEN 'staff' THEN 'staff' ELSE what || 's' END,
    label, count(DISTINCT target_id)
FROM scoped WHERE what <> '' AND label IS NOT NULL GROUP BY ALL
"""

# The errors and warnings of a run one community's admins read: those about its records (plan/issue_scope.py)
# and the run-level ones (no communities), in run order.
ISSUES_OF_COMMUNITY = """
SELECT severity, stream, record_key, message FROM run_issues
WHERE run_id = $run AND (coalesce(len(communities), 0) = 0 OR list_contains(communities, $key))
"""

# The admins of the "Notify to" roles, of every community of the run in one query.
_RECIPIENTS = """
SELECT DISTINCT c.key, p.id, p.email FROM community_members m
JOIN communities c ON c.id = m.community_id
JOIN people p ON p.id = m.person_id
WHERE c.key IN (SELECT unnest($keys::VARCHAR[])) AND m.role IN (SELECT unnest($roles::VARCHAR[]))
  AND p.email IS NOT NULL
ORDER BY c.key, p.id
"""


# A run's status as people read it (SQL over ``runs r``): one applied from an incomplete pull
# (target-bloomz's apply_incomplete_pulls) is "incomplete", never "applied" (Completed).
RUN_STATUS = "CASE WHEN r.status = 'applied' AND r.pull_complete = false THEN 'incomplete' ELSE r.status END"

# The stream of the warning a run gets when its status e-mail reaches nobody.
NO_RECIPIENT_STREAM = "notify_to"


def run_summary(con: duckdb.DuckDBPyConnection, run_id: int, community_key: str) -> RunSummary:
    """One run as the status e-mail, ``bloomz-sync status`` and the report page show it."""
    row = con.execute(
        "SELECT source, status, status_reason, error, options, mapping_file, started_at, finished_at, "
        "pull_complete FROM runs WHERE id = ?",
        [run_id],
    ).fetchone()
    if row is None:
        raise LookupError(f"no run {run_id} in the store")
    source, status, reason, error, options, mapping_file, started, finished, pull_complete = row
    name = con.execute("SELECT name FROM communities WHERE key = ?", [community_key]).fetchone()
    counts: dict[str, dict[str, int]] = {}
    for what, label, n in con.execute(_COUNTS, {"run": run_id, "key": community_key}).fetchall():
        counts.setdefault(what, {})[label] = n
    issues, notices = [], []
    for severity, stream, record, message in con.execute(
        ISSUES_OF_COMMUNITY, {"run": run_id, "key": community_key}
    ).fetchall():
        if stream == NO_RECIPIENT_STREAM:  # on top of the status page: capped issue lists would hide it
            notices.append(message)
        else:
            issues.append(Issue(severity=severity, stream=stream or "", record=record or "", message=message))
    if error:
        issues.insert(0, Issue(severity="error", stream="run", record=str(run_id), message=error))
    invitations = dict(
        con.execute(
            "SELECT channel, count(*) FROM outbox WHERE run_id = ? AND kind = 'invitation' GROUP BY ALL",
            [run_id],
        ).fetchall()
    )
    return RunSummary(
        run_id=run_id,
        community=name[0] if name else community_key,
        source=source,
        status=status,
        started_at=started,
        finished_at=finished,
        options=json.loads(options) if options else {},
        counts=counts,
        issues=issues,
        held_reason=reason if status == "held" else None,
        notices=notices,
        status_reason=reason,
        incomplete=status == "applied" and pull_complete is False,
        invitations=invitations,
        mapping_file=mapping_file,
    )


def run_communities(con: duckdb.DuckDBPyConnection, run_id: int) -> list[str]:
    """The community keys a run covers."""
    row = con.execute("SELECT coalesce(scope, []) FROM runs WHERE id = ?", [run_id]).fetchone()
    return list(row[0]) if row else []


def last_run(con: duckdb.DuckDBPyConnection, community_key: str) -> int | None:
    """The latest run covering a community (a dry run included: it is what the admin last did)."""
    row = con.execute("SELECT max(id) FROM runs WHERE list_contains(scope, ?)", [community_key]).fetchone()
    return row[0] if row else None


def _warn_no_recipient(con: duckdb.DuckDBPyConnection, run_id: int, key: str, roles: list[str]) -> None:
    """The run's warning that a community's status e-mail had nobody to go to, and how to fix it (once)."""
    seen = con.execute(
        "SELECT 1 FROM run_issues WHERE run_id = ? AND stream = ? AND list_contains(communities, ?)",
        [run_id, NO_RECIPIENT_STREAM, key],
    ).fetchone()
    if seen:
        return
    wanted = ", ".join(roles) if roles else "no role (notify_to is empty)"
    message = (
        f"the Bulk Import Status e-mail of {key} was sent to nobody: no member with an e-mail has a "
        f"Notify to role ({wanted}). Every staff member an import adds starts as School Support Staff: "
        f'raise an admin\'s role (bloomz-sync set-role {key} PERSON "School Admin"), or add the role '
        "your admins have to notify_to in the mapping's options."
    )
    con.execute(
        "INSERT INTO run_issues (run_id, severity, stream, record_key, message, communities) "
        "VALUES (?, 'warning', ?, NULL, ?, ?)",
        [run_id, NO_RECIPIENT_STREAM, message, [key]],
    )


def no_recipient_warnings(con: duckdb.DuckDBPyConnection, run_id: int) -> list[str]:
    """The run's warnings that a status e-mail reached nobody."""
    rows = con.execute(
        "SELECT message FROM run_issues WHERE run_id = ? AND stream = ? ORDER BY message",
        [run_id, NO_RECIPIENT_STREAM],
    ).fetchall()
    return [message for (message,) in rows]


def queue_status_emails(con: duckdb.DuckDBPyConnection, run_id: int) -> int:
    """Queue the run's Bulk Import Status e-mail for each admin of the "Notify to" roles; return how many.

    Keyed per run, admin, community and run status: calling it again for the same run queues nothing, an
    admin of two of the run's communities gets each one's e-mail, and a held run that is approved later
    sends its "Completed" e-mail too. A community with nobody to send to gets a warning in the run saying
    how to fix it.
    """
    options: dict[str, Any] = json.loads(
        (con.execute("SELECT options FROM runs WHERE id = ?", [run_id]).fetchone() or ["{}"])[0] or "{}"
    )
    roles = list(options.get("notify_to") or [])
    keys = run_communities(con, run_id)
    recipients_of: dict[str, list[tuple[int, str]]] = {}
    for key, person_id, address in con.execute(_RECIPIENTS, {"keys": keys, "roles": roles}).fetchall():
        recipients_of.setdefault(key, []).append((person_id, address))
    messages = []
    for key in keys:
        recipients = recipients_of.get(key)
        if not recipients:
            _warn_no_recipient(con, run_id, key, roles)
            continue
        summary = run_summary(con, run_id, key)
        email = render_status_email(summary)
        messages += [
            status_message(
                email,
                run_id=run_id,
                person_id=person_id,
                recipient=address,
                community_key=key,
                status=summary["status"],
            )
            for person_id, address in recipients
        ]
    return enqueue_many(con, messages)
