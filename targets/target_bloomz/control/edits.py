"""Edits as the Bloomz app makes them, on the same store the sync writes.

Each edit leaves the marks the sync respects: a rename sets ``name_edited`` (the sync keeps the name), a
member added by hand has origin ``manual`` (kept under "Do not override staff assignments"), a role set by
hand has ``role_set_by_hand`` (never changed by a sync), a member removed from a class by hand leaves a
tombstone (the sync does not add them back), an archived class is skipped unless "recreate
archived classes" is on, and a deleted class is re-created by the next sync. Every edit bumps the store's
change counter, so a held run planned before it is re-planned when approved.
"""

from __future__ import annotations

import duckdb

from plugin_runtime.failures import Failure
from target_bloomz import store
from target_bloomz.report import lookup

COMMUNITY_ROLES = ("School Admin", "School Office Staff", "School Support Staff", "Student", "Parent")
# The community roles that fit each kind of person: a staff member can be raised or lowered among the staff
# roles, a student is a Student and a parent a Parent.
ROLES_OF_KIND = {
    "staff": ("School Admin", "School Office Staff", "School Support Staff"),
    "student": ("Student",),
    "parent": ("Parent",),
}
CLASS_ROLES = ("teacher", "aide", "student", "parent")


class EditError(Failure, ValueError):
    """The edit cannot be made; the message says why."""


def find_class(con: duckdb.DuckDBPyConnection, ref: str) -> tuple[int, str, str]:
    """(id, name, status) of a class given its id or its source section id."""
    rows = con.execute(
        "SELECT id, name, status FROM classes WHERE CAST(id AS VARCHAR) = ? OR section_id = ? ORDER BY id",
        [ref, ref],
    ).fetchall()
    if not rows:
        raise EditError(f"no class {ref!r} (give a class id or a section id)")
    if len(rows) > 1:
        raise EditError(f"{ref!r} names several classes: ids {', '.join(str(r[0]) for r in rows)}")
    return rows[0]


def find_person(con: duckdb.DuckDBPyConnection, ref: str) -> tuple[int, str]:
    """(id, kind) of the person ``ref`` names (target_bloomz.lookup: id, source id, e-mail)."""
    found = lookup.person(con, ref)
    return found.id, found.kind


def find_community(con: duckdb.DuckDBPyConnection, ref: str) -> int:
    """The id of the community ``ref`` names (target_bloomz.lookup: id, key, name or source school id)."""
    return lookup.community(con, ref).id


def rename_class(con: duckdb.DuckDBPyConnection, ref: str, name: str) -> str:
    class_id, old, _ = find_class(con, ref)
    name = name.strip()
    if not name:
        raise EditError("a class name cannot be empty")
    taken = con.execute(
        """SELECT id FROM classes WHERE id <> ? AND lower(trim(name)) = lower(?)
             AND community_id = (SELECT community_id FROM classes WHERE id = ?)""",
        [class_id, name, class_id],
    ).fetchone()
    if taken:
        raise EditError(f'the name "{name}" is taken by class {taken[0]} in this community')
    _edit(con, "UPDATE classes SET name = ?, name_edited = true WHERE id = ?", [name, class_id])
    return f'class {class_id} renamed from "{old}" to "{name}"; the sync keeps this name'


def archive_class(con: duckdb.DuckDBPyConnection, ref: str) -> str:
    class_id, name, status = find_class(con, ref)
    if status == "archived":
        raise EditError(f'class {class_id} "{name}" is archived already')
    _edit(con, "UPDATE classes SET status = 'archived', archived_at = now() WHERE id = ?", [class_id])
    return f'class {class_id} "{name}" archived; the sync leaves it archived unless recreate_archived is on'


def revive_class(con: duckdb.DuckDBPyConnection, ref: str) -> str:
    class_id, name, status = find_class(con, ref)
    if status == "active":
        raise EditError(f'class {class_id} "{name}" is active already')
    _edit(con, "UPDATE classes SET status = 'active', archived_at = NULL WHERE id = ?", [class_id])
    return f'class {class_id} "{name}" revived'


def delete_class(con: duckdb.DuckDBPyConnection, ref: str) -> str:
    class_id, name, _ = find_class(con, ref)
    _edit(
        con,
        "DELETE FROM class_members WHERE class_id = $id; DELETE FROM classes WHERE id = $id",
        {"id": class_id},
    )
    return (
        f'class {class_id} "{name}" deleted with its members; a synced class is re-created by the next sync'
    )


def add_member(con: duckdb.DuckDBPyConnection, class_ref: str, person_ref: str, role: str) -> str:
    class_id, name, _ = find_class(con, class_ref)
    person_id, _ = find_person(con, person_ref)
    if role not in CLASS_ROLES:
        raise EditError(f"role {role!r} is not a class role; allowed: {', '.join(CLASS_ROLES)}")
    exists = con.execute(
        "SELECT role, origin FROM class_members WHERE class_id = ? AND person_id = ?", [class_id, person_id]
    ).fetchone()
    if exists:
        raise EditError(
            f'person {person_id} is in class {class_id} "{name}" already ({exists[0]}, {exists[1]})'
        )
    _edit(
        con,
        "INSERT INTO class_members (class_id, person_id, role, origin) VALUES ($class, $person, $role, "
        "'manual'); DELETE FROM class_member_tombstones WHERE class_id = $class AND person_id = $person",
        {"class": class_id, "person": person_id, "role": role},
    )
    return f'person {person_id} added by hand to class {class_id} "{name}" as {role}'


def remove_member(con: duckdb.DuckDBPyConnection, class_ref: str, person_ref: str) -> str:
    class_id, name, _ = find_class(con, class_ref)
    person_id, _ = find_person(con, person_ref)
    found = con.execute(
        "SELECT count(*) FROM class_members WHERE class_id = ? AND person_id = ?", [class_id, person_id]
    ).fetchone()
    if not found or not found[0]:
        raise EditError(f'person {person_id} is not in class {class_id} "{name}"')
    # A tombstone keeps the sync from adding a synced member back (like any edit by hand), until the source
    # drops and later re-adds them (plan/removals.py clears it) or someone adds them back by hand.
    _edit(
        con,
        "DELETE FROM class_members WHERE class_id = $class AND person_id = $person; "
        "INSERT OR REPLACE INTO class_member_tombstones VALUES ($class, $person, now())",
        {"class": class_id, "person": person_id},
    )
    return (
        f'person {person_id} removed from class {class_id} "{name}"; the sync does not add them back '
        "unless the source drops them and later adds them again"
    )


def set_role(con: duckdb.DuckDBPyConnection, community_ref: str, person_ref: str, role: str) -> str:
    community_id = find_community(con, community_ref)
    person_id, kind = find_person(con, person_ref)
    if role not in COMMUNITY_ROLES:
        raise EditError(f"role {role!r} is not a community role; allowed: {', '.join(COMMUNITY_ROLES)}")
    if role not in ROLES_OF_KIND[kind]:
        fits = ", ".join(ROLES_OF_KIND[kind])
        raise EditError(f"role {role!r} does not fit person {person_id}, a {kind}; allowed: {fits}")
    old = con.execute(
        "SELECT role FROM community_members WHERE community_id = ? AND person_id = ?",
        [community_id, person_id],
    ).fetchone()
    if not old:
        raise EditError(f"person {person_id} is not a member of community {community_ref}")
    _edit(
        con,
        "UPDATE community_members SET role = ?, role_set_by_hand = true "
        "WHERE community_id = ? AND person_id = ?",
        [role, community_id, person_id],
    )
    return f"person {person_id}: role {old[0]} → {role} in {community_ref}; the sync keeps a role set by hand"


def mark_registered(con: duckdb.DuckDBPyConnection, person_ref: str) -> str:
    person_id, _ = find_person(con, person_ref)
    _edit(
        con,
        "UPDATE people SET registered = true, registered_at = coalesce(registered_at, now()) WHERE id = ?",
        [person_id],
    )
    return f"person {person_id} marked registered: new classes add them with no invitation"


def _edit(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        for statement in sql.split("; "):
            con.execute(
                statement,
                params
                if isinstance(params, list)
                else {k: v for k, v in params.items() if f"${k}" in statement},
            )
        store.bump_change_counter(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
