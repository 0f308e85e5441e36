"""The keys an import locks (one import per school community at a time), known before the store is opened.

DESIGN.md rules 4 to 8 and docs/resync.md: "Sync in progress" is per school community.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from target_bloomz.input.sinks import spool_file
from target_bloomz.mapping import Mapping, MappingError


def scopes(mapping: Mapping, spool_dir: Path, database: Path, feed: str) -> list[str]:
    """The keys an import locks, known before it opens the store for writing.

    The communities of the spooled schools; a delta usually has none, so then those of the feed's mirror
    (the schools the feed was pulled with), else those the mapping names; as a last resort the feed itself.
    """
    keys = _communities(mapping, _spooled_schools(spool_dir))
    if not keys:
        keys = _communities(mapping, _mirrored_schools(database, feed))
    if not keys:
        keys = _configured(mapping)
    return sorted(keys) or [f"feed:{feed}"]


def _spooled_schools(spool_dir: Path) -> list[dict]:
    path = spool_file(spool_dir, "schools")
    if not path.exists():
        return []
    schools = []
    with path.open("rb") as lines:
        for line in lines:
            try:
                schools.append(json.loads(line))
            except ValueError:  # a bad school record is reported by staging, not here
                continue
    return schools


def _mirrored_schools(database: Path, feed: str) -> list[dict]:
    """The feed's schools in the store's mirror; none when the store is new, older or open elsewhere."""
    if not database.exists():
        return []
    try:
        with duckdb.connect(str(database), read_only=True) as con:
            cursor = con.execute("SELECT * EXCLUDE (feed) FROM src_schools WHERE feed = ?", [feed])
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except duckdb.Error:  # busy: the import holding it is found by the lock, or by opening the store
        return []


def _communities(mapping: Mapping, schools: list[dict]) -> set[str]:
    keys = set()
    for school in schools:
        try:
            community = mapping.community_for(school)
        except (KeyError, TypeError, ValueError, MappingError):
            community = None
        if community is not None:
            keys.add(community.key)
    return keys


def _configured(mapping: Mapping) -> set[str]:
    """The communities a mapping names: its groups, and the schools it lists (not "all")."""
    communities = mapping.resolved["communities"]
    keys = {group["key"] for group in communities["groups"]}
    if communities["schools"] != "all":
        grouped = {school for group in communities["groups"] for school in group["schools"]}
        keys |= {f"{mapping.source}:{school}" for school in communities["schools"] if school not in grouped}
    return keys
