"""The source is known: a pull's source and district must agree with the mapping, the feed and the store.

The pull's started record names its source (clever, oneroster) and tenant (the district). A run refuses,
with one line saying what to do, to apply it with a mapping file of another source, into a feed or a
school community that another source or district fills, or to create a second community for a school
another source already brought (docs/sources.md says how to move a school from one source to another).
``link`` records, in apply's transaction, which source and district fill the run's feed and communities.
"""

from __future__ import annotations

import duckdb

from target_bloomz import store
from target_bloomz.control.edits import EditError
from target_bloomz.guard.pull_verdict import Verdict
from target_bloomz.guard.safety import SyncRefused
from target_bloomz.mapping import Mapping
from target_bloomz.mapping.yaml_file import display_path
from target_bloomz.report import lookup

_LABELS = {"clever": "Clever", "oneroster": "OneRoster"}


class WrongSource(SyncRefused):
    """The pull belongs to another source or district than the mapping, feed or community it would fill."""


def _from(source: str | None, tenant: str | None) -> str:
    label = _LABELS.get(source or "", source or "an unknown source")
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
            f"from {_LABELS.get(other, other)}: refusing to create a second community for the same school. "
            f"To move it to {_LABELS.get(mapping.source, mapping.source)}, run "
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


class MoveError(EditError):
    """A school cannot be moved as asked; the message says why."""


# How a person's or a section's id in the new source is found from the old source's link.
_MATCHES = {
    "id": ("ps.source_id", "cl.section_id"),
    "sis_id": (
        "ps.sis_id",
        "(SELECT any_value(s.sis_id) FROM src_sections s WHERE s.id = cl.section_id)",
    ),
}


def move_school(con: duckdb.DuckDBPyConnection, community: str, to: str, match: str = "sis_id") -> str:
    """Move the school community ``community`` names (report/lookup.py) to source school ``to``
    (``<source>:<school id>``), in one transaction.

    The community takes the new source's key (its runs' history follows), and its people and synced classes
    get the new source's ids, found by ``match``: the old link's ``sis_id`` (a SIS id that the new source
    uses as its own id) or its ``id`` (both sources use the same ids). The next import of the new source then
    updates them instead of creating a second of each. What has no match stays linked to the old source.
    """
    source, _, school_id = to.partition(":")
    if source not in _LABELS or not school_id:
        raise MoveError(f"--to {to!r}: expected <source>:<school id>, source one of {', '.join(_LABELS)}")
    if match not in _MATCHES:
        raise MoveError(f"--match {match!r}: expected one of {', '.join(_MATCHES)}")
    found = lookup.community(con, community)
    community_id, key = found.id, found.key
    (old,) = con.execute("SELECT source FROM communities WHERE id = ?", [community_id]).fetchone() or (None,)
    if old == source:
        raise MoveError(f"{key} is already filled from {_LABELS[source]}")
    taken = con.execute(
        "SELECT c.key FROM communities c LEFT JOIN community_sources cs ON cs.community_id = c.id "
        "WHERE c.key = $to OR (cs.source = $source AND cs.school_id = $school) LIMIT 1",
        {"to": to, "source": source, "school": school_id},
    ).fetchone()
    if taken:
        raise MoveError(f"{to} is already the school of community {taken[0]}")
    person_id, section_id = _MATCHES[match]
    moved = {"id": community_id, "new": source, "to": to}
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("UPDATE communities SET key = $to, source = $new, tenant = NULL WHERE id = $id", moved)
        con.execute("DELETE FROM community_sources WHERE community_id = ?", [community_id])
        con.execute("INSERT INTO community_sources VALUES (?, ?, ?)", [community_id, source, school_id])
        for table, column in (("runs", "scope"), ("run_issues", "communities")):
            con.execute(
                f"UPDATE {table} SET {column} = list_transform({column}, lambda k: "
                f"CASE WHEN k = $key THEN $to ELSE k END) WHERE list_contains({column}, $key)",
                {"key": key, "to": to},
            )
        people = con.execute(
            f"""INSERT INTO person_sources (source, kind, source_id, person_id, sis_id)
                SELECT DISTINCT ON (ps.kind, {person_id}) $new, ps.kind, {person_id}, ps.person_id, ps.sis_id
                FROM person_sources ps JOIN community_members m ON m.person_id = ps.person_id
                WHERE m.community_id = $id AND ps.source = $old AND {person_id} IS NOT NULL
                ON CONFLICT DO NOTHING""",
            {"id": community_id, "old": old, "new": source},
        ).fetchone()
        classes = con.execute(
            f"""UPDATE classes cl SET source = $new, section_id = {section_id}
                WHERE community_id = $id AND source = $old AND {section_id} IS NOT NULL""",
            {"id": community_id, "old": old, "new": source},
        ).fetchone()
        left = con.execute(
            "SELECT count(*) FROM classes WHERE community_id = ? AND source = ?", [community_id, old]
        ).fetchone()
        store.bump_change_counter(con)  # a held run of the school is re-planned before it is approved
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    linked, kept = (classes[0] if classes else 0), (left[0] if left else 0)
    return (
        f"{key} is now {to}, filled from {_LABELS[source]}: {people[0] if people else 0} people and "
        f"{_classes(linked)} took their {_LABELS[source]} ids ({match}); {_classes(kept)} kept the "
        f"{_LABELS[old]} link. Import from {_LABELS[source]} next (it updates them), and stop the school's "
        f"{_LABELS[old]} job."
    )


def _classes(n: int) -> str:
    return f"{n} class{'es' if n != 1 else ''}"
