"""Guards a run must pass: the first-import rule of scheduled imports and the mapping's safety limits.

Safety limits (mapping ``safety_limits``) cap removals and updates per entity type, as a count or a
percentage of what the run's communities hold now. A run over a limit is held: its plan is kept, nothing
is applied, and a person approves (``bloomz-sync approve RUN``) or discards it.
"""

from __future__ import annotations

import duckdb

from plugin_runtime.failures import Failure
from target_bloomz.mapping import Limit, Mapping


class SyncRefused(Failure, RuntimeError):
    """The run may not start (a scheduled import of a school without a completed first import)."""


def check_first_import(con: duckdb.DuckDBPyConnection, mapping: Mapping) -> None:
    """A scheduled import needs every school to have completed a first (initial) import."""
    if not mapping.options.scheduled:
        return
    missing = con.execute(
        """SELECT ms.community_key, min(ms.community_name) FROM map_schools ms
           WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.status IN ('applied', 'undone') AND NOT r.dry_run
                             AND list_contains(r.scope, ms.community_key))
           GROUP BY ms.community_key ORDER BY 1"""
    ).fetchall()
    if missing:
        names = ", ".join(f"{name} ({key})" for key, name in missing)
        raise SyncRefused(
            f"scheduled import refused: {names} never completed a first import. Bloomz requires the initial "
            "sync before autosync: run the import once with scheduled off, check it, then turn the "
            "scheduled import on."
        )


# entity type of the limits → (SQL count of removals, SQL count of updates, SQL count of what exists now)
_MEASURES = {
    "classes": (
        "SELECT count(*) FROM p_class_archives",
        "SELECT count(*) FROM p_classes WHERE action = 'update'",
        "SELECT count(*) FROM classes WHERE status = 'active' AND community_id IN "
        "(SELECT community_id FROM p_communities)",
    ),
    "class_memberships": (
        "SELECT count(*) FROM p_class_member_removals",
        "SELECT count(*) FROM p_class_members WHERE action = 'update'",
        "SELECT count(*) FROM class_members m JOIN classes cl ON cl.id = m.class_id WHERE cl.community_id IN "
        "(SELECT community_id FROM p_communities)",
    ),
    "people": (
        "SELECT count(*) FROM p_community_member_removals",
        "SELECT count(*) FROM p_people WHERE action = 'update'",
        "SELECT count(*) FROM community_members "
        "WHERE community_id IN (SELECT community_id FROM p_communities)",
    ),
}


def over_limits(con: duckdb.DuckDBPyConnection, mapping: Mapping) -> list[str]:
    """Why the planned run is over its safety limits (empty when it is not)."""
    reasons = []
    for entity, (removals_sql, updates_sql, total_sql) in _MEASURES.items():
        total = _count(con, total_sql)
        for kind, sql, limits in (
            ("removals", removals_sql, mapping.limits.removals),
            ("updates", updates_sql, mapping.limits.updates),
        ):
            limit = limits.get(entity)
            if limit is None:
                continue
            n = _count(con, sql)
            reason = _over(limit, n, total)
            if reason:
                reasons.append(f"{n} {entity} {kind} of {total} {reason}")
    return reasons


def _over(limit: Limit, n: int, total: int) -> str | None:
    if limit.count is not None and n > limit.count:
        return f"is over the limit of {limit.count}"
    if limit.percent is not None and total and n * 100 > limit.percent * total:
        return f"({n * 100 / total:.0f}%) is over the limit of {limit.percent:g}%"
    return None


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0
