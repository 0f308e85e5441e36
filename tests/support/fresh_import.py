"""A store after some nights compared with a fresh full import of the same day (``bloomz-sync export``).

Store ids are the store's own: people are named by their source ids (those the fresh import knows, so a
parent whose Clever contact id churned is the same person on both sides), classes by community and section.
What history rightly keeps is allowed to differ, and nothing else:

- archived classes (the fresh import never saw them, or, recreate archived classes being off, has them
  active);
- a class that keeps its name: one that had its name before this night keeps it even when a fresh import
  would give that name to another section (which the night then leaves out, or keeps under its own older
  name);
- people who left every school community (the store keeps the person, with no membership);
- a family code given on an earlier night to a student who has a parent now (a code never changes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Store:
    """One export, with store ids replaced by source identities."""

    classes: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # → (name, status)
    class_members: dict[tuple[str, str], set[tuple]] = field(default_factory=dict)
    community_members: set[tuple] = field(default_factory=set)
    people: dict[str, str] = field(default_factory=dict)  # person → fields as JSON
    family_codes: set[str] = field(default_factory=set)  # people with a code
    links: set[tuple[str, str, str, str]] = field(default_factory=set)
    members_anywhere: set[str] = field(default_factory=set)


def source_ids(document: dict[str, Any]) -> set[str]:
    return {f"{s['source']}:{s['id']}" for p in document["people"] for s in p["source_ids"]}


def read(document: dict[str, Any], known: set[str] | None = None) -> Store:
    """The export as a Store; a person with several source ids is named by those in ``known`` if any."""
    names = {}
    for p in document["people"]:
        ids = {f"{s['source']}:{s['id']}" for s in p["source_ids"]}
        ids = (ids & known if known else set()) or ids
        names[p["id"]] = " ".join(sorted(ids)) or f"#{p['kind']}:{p['id']}"
    store = Store()
    for c in document["classes"]:
        if c["source"] is None:
            continue  # made by hand in Bloomz: none in these tests
        key = (c["community"], c["section_id"])
        store.classes[key] = (c["name"], c["status"])
        store.class_members[key] = {(names[m["person_id"]], m["role"], m["origin"]) for m in c["members"]}
    for c in document["communities"]:
        for m in c["members"]:
            store.community_members.add((c["key"], names[m["person_id"]], m["role"], m["origin"]))
            store.members_anywhere.add(names[m["person_id"]])
    for p in document["people"]:
        name = names[p["id"]]
        fields = {k: v for k, v in p.items() if k not in ("id", "source_ids", "contacts", "family_code")}
        store.people[name] = json.dumps(fields, sort_keys=True)
        if p["family_code"] is not None:
            store.family_codes.add(name)
        for link in p["contacts"]:
            store.links.add((name, names[link["person_id"]], link["relationship"], link["type"]))
    return store


def _slot(name: str) -> str:
    return name.strip().lower()


def differences(night: Store, fresh: Store, before: Store) -> list[str]:
    """What the store after the night has that a fresh full import of the day would not (and the reverse),
    beyond what history keeps; ``before`` is the store before this night (for names kept)."""
    problems: list[str] = []
    active = {k: v for k, v in night.classes.items() if v[1] == "active"}
    archived = {k for k, v in night.classes.items() if v[1] == "archived"}
    kept = {k for k, (name, _) in active.items() if before.classes.get(k, ("", ""))[0] == name}
    kept_slots = {(k[0], _slot(active[k][0])) for k in kept}
    for key in sorted(set(active) | (set(fresh.classes) - archived)):
        mine, theirs = active.get(key), fresh.classes.get(key)
        if mine and theirs and mine[0] != theirs[0] and key not in kept:
            problems.append(f"class {key}: named {mine[0]!r} after the night, {theirs[0]!r} when fresh")
        elif mine and not theirs and key not in kept:
            problems.append(f"class {key} {mine[0]!r}: after the night only")
        elif theirs and not mine and (key[0], _slot(theirs[0])) not in kept_slots:
            problems.append(f"class {key} {theirs[0]!r}: in a fresh import only (the night left it out)")
        if mine and theirs and night.class_members[key] != fresh.class_members[key]:
            extra = sorted(night.class_members[key] - fresh.class_members[key])[:3]
            missing = sorted(fresh.class_members[key] - night.class_members[key])[:3]
            problems.append(f"class {key} members: after the night only {extra}, fresh only {missing}")
    for what, a, b in (
        ("community member", night.community_members, fresh.community_members),
        ("student-contact link", night.links, fresh.links),
    ):
        problems += [f"{what} after the night only: {row}" for row in sorted(a - b)[:5]]
        problems += [f"{what} in a fresh import only: {row}" for row in sorted(b - a)[:5]]
    for person in sorted(set(night.people) | set(fresh.people)):
        mine_p, theirs_p = night.people.get(person), fresh.people.get(person)
        if theirs_p is None and person not in night.members_anywhere:
            continue  # left every school: the store keeps the person
        if mine_p != theirs_p:
            problems.append(f"person {person}: {mine_p} after the night, {theirs_p} in a fresh import")
        elif person in fresh.family_codes and person not in night.family_codes:
            problems.append(f"student {person} has no family code; a fresh import gives one")
    return problems
