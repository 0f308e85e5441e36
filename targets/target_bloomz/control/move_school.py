"""Move a school community to another source (`bloomz-sync move-school`): the community, its people and its
synced classes take the new source's key and ids, so the next import of that source updates them."""

from __future__ import annotations

import duckdb

from target_bloomz import store
from target_bloomz.control.edits import EditError
from target_bloomz.guard.source_identity import SOURCE_LABELS as _LABELS
from target_bloomz.report import lookup


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
