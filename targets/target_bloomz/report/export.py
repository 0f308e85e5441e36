"""Everything in the store, as ``bloomz-sync export`` writes it (README, "The export"): a JSON document of
communities, classes and people with their members, sources and contacts, or one flat CSV table each."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb

from target_bloomz.report.rows import dicts

_DOCUMENT = {
    "communities": """
        SELECT c.id, c.key, c.name, c.source,
            (SELECT coalesce(list(school_id ORDER BY school_id), []) FROM community_sources s
             WHERE s.community_id = c.id) AS school_ids,
            (SELECT coalesce(list({'person_id': m.person_id, 'kind': p.kind, 'role': m.role,
                                   'role_set_by_hand': m.role_set_by_hand, 'origin': m.origin}
                                  ORDER BY m.person_id), [])
             FROM community_members m JOIN people p ON p.id = m.person_id WHERE m.community_id = c.id) AS
                 members
        FROM communities c ORDER BY c.id""",
    "classes": """
        SELECT cl.id, c.key AS community, cl.name, cl.status, cl.name_edited, cl.source, cl.section_id,
            (SELECT coalesce(list({'person_id': m.person_id, 'kind': p.kind, 'role': m.role, 'origin':
                m.origin}
                                  ORDER BY m.person_id), [])
             FROM class_members m JOIN people p ON p.id = m.person_id WHERE m.class_id = cl.id) AS members
        FROM classes cl JOIN communities c ON c.id = cl.community_id ORDER BY cl.id""",
    "people": """
        SELECT p.id, p.kind, p.first_name, p.middle_name, p.last_name, p.preferred_first_name, p.grade,
            p.title,
            p.email, p.phone, p.student_id, p.student_id_field, p.registered, p.family_code,
            (SELECT coalesce(list({'source': s.source, 'id': s.source_id} ORDER BY s.source, s.source_id), [])
             FROM person_sources s WHERE s.person_id = p.id) AS source_ids,
            (SELECT coalesce(list({'person_id': sc.contact_id, 'relationship': sc.relationship, 'type':
                sc.type}
                                  ORDER BY sc.contact_id), [])
             FROM student_contacts sc WHERE sc.student_id = p.id) AS contacts
        FROM people p ORDER BY p.id""",
}

# CSV is flat: one file per table, memberships in their own files.
_CSV_TABLES = {
    "communities": "SELECT id, key, name, source, school_ids FROM ({communities})",
    "community_members": "SELECT id AS community_id, key AS community, unnest(members, recursive := true) "
    "FROM ({communities})",
    "classes": "SELECT id, community, name, status, name_edited, source, section_id FROM ({classes})",
    "class_members": "SELECT id AS class_id, unnest(members, recursive := true) FROM ({classes})",
    "people": "SELECT * EXCLUDE (source_ids, contacts), "
    "array_to_string(list_transform(source_ids, lambda s: s.source || ':' || s.id), ' ') AS source_ids "
    "FROM ({people})",
    "student_contacts": "SELECT id AS student_id, unnest(contacts, recursive := true) FROM ({people})",
}

_BATCH_ROWS = 10_000  # rows a CSV table hands over at a time: a large store is never read whole


def document(con: duckdb.DuckDBPyConnection) -> dict[str, list[dict[str, Any]]]:
    """The JSON export: communities, classes and people, each a list of rows with nested lists."""
    return {name: dicts(con, sql) for name, sql in _DOCUMENT.items()}


def csv_tables(con: duckdb.DuckDBPyConnection) -> Iterator[tuple[str, list[str], Iterator[list[tuple]]]]:
    """(name, column names, batches of rows) of each flat table in turn. A table's batches must be read
    before asking for the next table: they come from the connection's one open result."""
    for name, sql in _CSV_TABLES.items():
        cursor = con.execute(sql.format(**_DOCUMENT))
        yield name, [d[0] for d in cursor.description], _batches(cursor)


def _batches(cursor: duckdb.DuckDBPyConnection) -> Iterator[list[tuple]]:
    while batch := cursor.fetchmany(_BATCH_ROWS):
        yield batch
