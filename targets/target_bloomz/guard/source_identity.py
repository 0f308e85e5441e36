"""The source is known: a pull's source and district must agree with the mapping, the feed and the store.

The pull's started record names its source (clever, oneroster) and tenant (the district). A run refuses,
with one line saying what to do, to apply it with a mapping file of another source, into a feed or a
school community that another source or district fills, or to create a second community for a school
another source already brought (docs/sources.md says how to move a school from one source to another).
``link`` records, in apply's transaction, which source and district fill the run's feed and communities.
"""

from __future__ import annotations

import duckdb

from target_bloomz.guard.pull_verdict import Verdict
from target_bloomz.guard.safety import SyncRefused
from target_bloomz.mapping import Mapping
from target_bloomz.mapping.yaml_file import display_path

SOURCE_LABELS = {"clever": "Clever", "oneroster": "OneRoster"}


class WrongSource(SyncRefused):
    """The pull belongs to another source or district than the mapping, feed or community it would fill."""


def _from(source: str | None, tenant: str | None) -> str:
    label = SOURCE_LABELS.get(source or "", source or "an unknown source")
    return f"{label} (district {tenant})" if tenant else label


def check_mapping(verdict: Verdict, mapping: Mapping, *, named: bool) -> None:
    """A mapping file (or ``source`` setting) the admin named must be of the pulled source."""
    if named and verdict.source and verdict.source != mapping.source:
        raise WrongSource(
            f"the mapping {display_path(mapping.path)} is for {_from(mapping.source, None)}, but this pull "
            f"comes from {_from(verdict.source, verdict.tenant)} through {verdict.tap}: set target-bloomz's "
            f"mapping to a file that extends mappings/{verdict.source}.yml (or unset mapping and source to "
            "use that default)"
        )


def check_store(con: duckdb.DuckDBPyConnection, verdict: Verdict, mapping: Mapping, feed: str) -> None:
    """The feed, the communities and the schools this run fills must not belong to another source."""
    tenant = verdict.tenant
    row = con.execute("SELECT source, tenant FROM feeds WHERE feed = ?", [feed]).fetchone()
    if row and (row[0] != mapping.source or _differ(row[1], tenant)):
        raise WrongSource(
            f"feed {feed} holds the roster of {_from(row[0], row[1])}, but this pull comes from "
            f"{_from(mapping.source, tenant)}: give this tap configuration its own feed "
            "(target-bloomz setting feed)"
        )
    taken = con.execute(
        """SELECT c.key, c.source, c.tenant FROM communities c
           WHERE c.key IN (SELECT community_key FROM map_schools)
             AND (c.source <> $source OR c.tenant <> $tenant)
           ORDER BY c.key LIMIT 1""",
        {"source": mapping.source, "tenant": tenant},
    ).fetchone()
    if taken:
        key, source, owner = taken
        raise WrongSource(
            f"school community {key} is filled from {_from(source, owner)}, but this pull comes from "
            f"{_from(mapping.source, tenant)}: map the pulled schools to other communities, or move the "
            "school to this source first (docs/sources.md)"
        )
    grouped = [school for group in mapping.resolved["communities"]["groups"] for school in group["schools"]]
    same = con.execute(_SAME_SCHOOL, {"source": mapping.source, "grouped": grouped}).fetchone()
    if same:
        name, school_id, key, other = same
        raise WrongSource(
            f"{name} ({mapping.source} school {school_id}) is already in Bloomz as community {key}, filled "
            f"from {SOURCE_LABELS.get(other, other)}: refusing to create a second community for the same "
            "school. "
            f"To move it to {SOURCE_LABELS.get(mapping.source, mapping.source)}, run "
            f"`bloomz-sync move-school {key} --to {mapping.source}:{school_id}` (docs/sources.md); if it is "
            "another school, map it to a community of its own in communities.groups of the mapping"
        )


def _differ(known: str | None, pulled: str | None) -> bool:
    return known is not None and pulled is not None and known != pulled


# Schools this run would give a new community that look like a school another source's community holds:
# the same name, and the same school number where both have one. A school the mapping places in a group
# by hand is the admin's decision.
_SAME_SCHOOL = """
SELECT s.name, s.id, c.key, c.source
FROM map_schools ms
JOIN stg_schools s ON s.id = ms.school_id
JOIN communities c ON c.source <> $source
JOIN community_sources cs ON cs.community_id = c.id
JOIN src_schools o ON o.id = cs.school_id
WHERE ms.community_key NOT IN (SELECT key FROM communities)
  AND NOT list_contains($grouped::VARCHAR[], s.id)
  AND lower(trim(o.name)) = lower(trim(s.name))
  AND (o.school_number IS NULL OR s.school_number IS NULL OR o.school_number = s.school_number)
ORDER BY s.id, c.key
LIMIT 1
"""


def link(con: duckdb.DuckDBPyConnection, run_id: int, verdict: Verdict, mapping: Mapping, feed: str) -> None:
    """Record which source and district fill the run's feed and communities (inside apply's transaction)."""
    con.execute(
        """INSERT INTO feeds (feed, source, tenant, tap, first_run, last_run) VALUES ($feed, $source, $tenant,
               $tap, $run, $run)
           ON CONFLICT (feed) DO UPDATE SET tenant = coalesce(feeds.tenant, excluded.tenant),
               tap = excluded.tap, last_run = excluded.last_run""",
        {"feed": feed, "source": mapping.source, "tenant": verdict.tenant, "tap": verdict.tap, "run": run_id},
    )
    if verdict.tenant is not None:
        con.execute(
            """UPDATE communities SET tenant = $tenant WHERE tenant IS NULL
               AND key IN (SELECT unnest(scope) FROM runs WHERE id = $run)""",
            {"tenant": verdict.tenant, "run": run_id},
        )
