"""How the admin CLI names things, the same way in every command.

- a school community: its store id, its key (``clever:<school id>``), its name (any case), or the source id
  of one of its schools;
- a person: their store id, a source id (``<id>``, or ``<source>:<id>`` when two sources use the same id),
  their sis_id, or their e-mail (any case).

A name that matches nothing, or more than one, is a :class:`LookupError` whose message says so and, when
ambiguous, lists the candidates with what tells them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


class NotFound(LookupError):
    """Nothing has that name; the message says what was looked for and how to list what exists."""


class Ambiguous(LookupError):
    """Several things have that name; the message lists them."""


@dataclass(frozen=True)
class Community:
    id: int
    key: str
    name: str


@dataclass(frozen=True)
class Person:
    id: int
    kind: str


_COMMUNITIES = """
SELECT DISTINCT c.id, c.key, c.name FROM communities c
LEFT JOIN community_sources s ON s.community_id = c.id
WHERE CAST(c.id AS VARCHAR) = $ref OR c.key = $ref OR lower(c.name) = lower($ref) OR s.school_id = $ref
ORDER BY c.id
"""

_PEOPLE = """
SELECT DISTINCT p.id, p.kind FROM people p LEFT JOIN person_sources s ON s.person_id = p.id
WHERE CAST(p.id AS VARCHAR) = $ref OR s.source_id = $ref OR s.source || ':' || s.source_id = $ref
   OR s.sis_id = $ref OR lower(p.email) = lower($ref)
ORDER BY p.id
"""

_PERSON_CANDIDATE = """
SELECT p.id, p.kind,
    (SELECT string_agg(source || ':' || source_id, ', ' ORDER BY source, source_id) FROM person_sources
     WHERE person_id = p.id) AS sources,
    (SELECT string_agg(c.name, ', ' ORDER BY c.name) FROM community_members m
     JOIN communities c ON c.id = m.community_id WHERE m.person_id = p.id) AS communities
FROM people p WHERE p.id = ?
"""


def community(con: duckdb.DuckDBPyConnection, ref: str) -> Community:
    """The school community ``ref`` names (id, key, name or a source school id)."""
    rows = con.execute(_COMMUNITIES, {"ref": ref.strip()}).fetchall()
    if not rows:
        raise NotFound(
            f'no school community "{ref}" in the store: give its key, its name or a source school id '
            "(bloomz-sync status lists them by key and name)"
        )
    if len(rows) > 1:
        listed = "; ".join(f'{key} "{name}"' for _, key, name in rows)
        raise Ambiguous(f'"{ref}" names {len(rows)} school communities: {listed}; give the key')
    return Community(*rows[0])


def person(con: duckdb.DuckDBPyConnection, ref: str) -> Person:
    """The person ``ref`` names (store id, source id, ``source:id``, sis_id or e-mail)."""
    rows = con.execute(_PEOPLE, {"ref": ref.strip()}).fetchall()
    if not rows:
        raise NotFound(f'no person "{ref}" in the store: give a person id, a source id, or an e-mail')
    if len(rows) > 1:
        candidates = []
        for person_id, *_ in rows:
            # ids and schools only: no personal data in a message that may end up in a log
            _, kind, sources, communities = con.execute(_PERSON_CANDIDATE, [person_id]).fetchone() or ()
            where = f" in {communities}" if communities else ""
            candidates.append(f"person {person_id} ({kind}, {sources or 'no source'}{where})")
        raise Ambiguous(
            f'"{ref}" names {len(rows)} people: ' + "; ".join(candidates) + ". Give the person id, or the "
            "source id as <source>:<id>"
        )
    return Person(*rows[0])
