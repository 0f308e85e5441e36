"""The Bulk Import Status: a run as the admins read it (its e-mail, ``bloomz-sync status``, the report page).

:func:`run_summary` reads one run from the store for one school community: the counts of that community's
classes, students, parents and staff added, updated, removed and archived; the errors and warnings about
its records and the run-level ones, not another school's; why a run was held or failed; the options; the
invitations queued. :func:`last_imports` is each community's last import with its issues.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from target_bloomz.report.render import Issue, RunSummary
from target_bloomz.report.rows import dicts, from_json

# A run's status as people read it (SQL over ``runs r``): one applied from an incomplete pull
# (target-bloomz's apply_incomplete_pulls) is "incomplete", never "applied" (Completed).
RUN_STATUS = "CASE WHEN r.status = 'applied' AND r.pull_complete = false THEN 'incomplete' ELSE r.status END"

# The stream of the warning a run gets when its status e-mail reaches nobody.
NO_RECIPIENT_STREAM = "notify_to"

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
_ISSUES_OF_COMMUNITY = """
SELECT severity, stream, record_key, message FROM run_issues
WHERE run_id = $run AND (coalesce(len(communities), 0) = 0 OR list_contains(communities, $key))
"""

# Each community's last import (a dry run is a preview, not an import); NULLs when it has none.
_LAST_IMPORTS = f"""
SELECT c.key AS community, c.name, r.id AS run, {RUN_STATUS} AS status, r.dry_run, r.started_at,
    r.finished_at, r.options, r.counts, r.error
FROM communities c
LEFT JOIN runs r ON r.id = (SELECT max(id) FROM runs WHERE list_contains(scope, c.key) AND NOT dry_run)
ORDER BY c.key
"""


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
        _ISSUES_OF_COMMUNITY, {"run": run_id, "key": community_key}
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


def community_issues(con: duckdb.DuckDBPyConnection, run_id: int, community_key: str) -> list[dict[str, Any]]:
    """The run's errors and warnings one community's admins read, errors first, by stream and record."""
    return dicts(
        con,
        _ISSUES_OF_COMMUNITY + " ORDER BY severity, stream, record_key",
        {"run": run_id, "key": community_key},
    )


def last_imports(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every community with its last import (``run`` None when it has none): options and counts decoded,
    and the errors and warnings its status e-mail lists (``issues``, counted in ``errors``, ``warnings``)."""
    found = dicts(con, _LAST_IMPORTS)
    for row in found:
        row["options"], row["counts"] = from_json(row["options"]), from_json(row["counts"])
        issues = community_issues(con, row["run"], row["community"])
        row["errors"] = sum(issue["severity"] == "error" for issue in issues)
        row["warnings"] = len(issues) - row["errors"]
        row["issues"] = issues
    return found


def run_communities(con: duckdb.DuckDBPyConnection, run_id: int) -> list[str]:
    """The community keys a run covers."""
    row = con.execute("SELECT coalesce(scope, []) FROM runs WHERE id = ?", [run_id]).fetchone()
    return list(row[0]) if row else []


def last_invite_from(con: duckdb.DuckDBPyConnection, community_key: str) -> str | None:
    """The "Invite from" admin of the latest run covering the community (a dry run included: it is what the
    admin last did); reinvite uses it when none is given."""
    row = con.execute(
        """SELECT options->>'invite_from' FROM runs
           WHERE id = (SELECT max(id) FROM runs WHERE list_contains(scope, ?))""",
        [community_key],
    ).fetchone()
    return row[0] if row else None
