"""Stage: the spooled NDJSON of each stream into typed DuckDB temp tables, checked set-based in SQL.

For every standard stream ``s`` this builds ``stg_<s>`` (one row per key, the last record wins) from the
contract schema in ``schemas/roster/``. A record that breaks the contract (missing key, wrong type, bad
date, unknown field, value outside an enum, a reference to an unknown section, student or contact) is
set aside into ``stg_rejects`` with its reason (and the record as received, so the run can still tell
which school it concerns: plan/issue_scope.py): the run reports it, it never stops the run.

Each record is parsed three times, not once per check and column: ``json_extract_string`` and
``json_type`` each take the list of all the contract's fields, ``json_keys`` finds unknown fields, and every
check and column works on the small per-field values ``s[i]`` (the field's text: a string unquoted, an
array or object as JSON) and ``t[i]`` (its JSON type; NULL when the field is missing).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from plugin_runtime.failures import BadInput
from roster_streams import contract
from target_bloomz.store.stream_columns import _fields, _items, _kinds, _quote, _types, columns


def _paths(stream: str) -> str:
    """The SQL list of every contract field's JSON path, in schema order (the order ``s`` and ``t`` use)."""
    return "[" + ", ".join(_quote(f"$.{name}") for name in contract.load_schema(stream)["properties"]) + "]"


def _checks(stream: str) -> list[str]:
    """SQL expressions over ``s``, ``t`` and ``unknown`` each yielding a problem message or NULL."""
    required = set(contract.load_schema(stream).get("required", []))
    checks = []
    for name, prop, text, jtype in _fields(stream):
        if name in required:
            checks.append(f"CASE WHEN {jtype} IS NULL OR {jtype} = 'NULL' THEN 'missing {name}' END")
        allowed = ", ".join(_quote(t) for t in _types(prop))
        expected = " or ".join(_kinds(prop))
        null_check = "" if name in required else f" OR ({jtype} = 'NULL' AND 'NULL' NOT IN ({allowed}))"
        checks.append(
            f"CASE WHEN {jtype} NOT IN ({allowed}, 'NULL'){null_check}"
            f" THEN '{name}: expected {expected}, got ' || lower({jtype}) END"
        )
        if prop.get("minLength"):
            checks.append(f"CASE WHEN {jtype} = 'VARCHAR' AND {text} = '' THEN '{name}: empty' END")
        if "enum" in prop:
            values = ", ".join(_quote(v) for v in prop["enum"] if v is not None)
            checks.append(
                f"CASE WHEN {jtype} = 'VARCHAR' AND {text} NOT IN ({values})"
                f" THEN '{name}: ' || {text} || ' is not one of {values.replace(chr(39), '')}' END"
            )
        items = prop.get("items", {})
        if "enum" in items:
            values = ", ".join(_quote(v) for v in items["enum"])
            checks.append(
                f"CASE WHEN len(list_filter({_items(text, jtype, 'json_extract_string')}, "
                f"lambda x: x NOT IN ({values}))) > 0"
                f" THEN '{name}: a value is not one of {values.replace(chr(39), '')}' END"
            )
        elif items.get("type") == "string":
            item_types = _items(text, jtype, "json_type")
            checks.append(
                f"CASE WHEN len(list_filter({item_types}, lambda x: x <> 'VARCHAR')) > 0"
                f" THEN '{name}: expected an array of strings' END"
            )
        fmt = {"date-time": "TIMESTAMPTZ", "date": "DATE"}.get(prop.get("format", ""))
        if fmt:
            checks.append(
                f"CASE WHEN {jtype} = 'VARCHAR' AND TRY_CAST({text} AS {fmt}) IS NULL"
                f" THEN '{name}: not a valid {prop['format']}' END"
            )
    checks.append("CASE WHEN len(unknown) > 0 THEN 'unknown fields: ' || array_to_string(unknown, ', ') END")
    return checks


def _unknown(stream: str) -> str:
    """SQL: the record's fields that are neither in the contract nor singer bookkeeping (``_sdc_*``)."""
    known = ", ".join(_quote(k) for k in contract.load_schema(stream)["properties"])
    # Cheap first: a record with only contract fields has as many keys as contract fields present.
    return (
        "CASE WHEN len(json_keys(json)) > list_count(t) THEN list_filter(json_keys(json), "
        f"lambda k: k NOT IN ({known}) AND NOT starts_with(k, '_sdc_')) END"
    )


def _deleted_at(stream: str) -> str:
    text = next(text for name, _, text, _ in _fields(stream) if name == "_sdc_deleted_at")
    return f"TRY_CAST({text} AS TIMESTAMPTZ) AS _deleted_at"


def _key_expr(stream: str) -> str:
    """SQL: the record key of a checked row (``?`` for a missing part), as rejects report it."""
    return " || '/' || ".join(f"coalesce({k}, '?')" for k in contract.key_properties(stream))


def stage(con: duckdb.DuckDBPyConnection, spool_dir: Path) -> dict[str, int]:
    """Build ``stg_<stream>`` for every standard stream, and ``stg_rejects``; return records per stream."""
    con.execute("SET preserve_insertion_order = true")  # the line numbers are the tables' row order
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stg_rejects "
        "(stream VARCHAR, record_key VARCHAR, problem VARCHAR, json JSON)"
    )
    received = dict.fromkeys(contract.STREAMS, 0)
    for stream in contract.STREAMS:
        spool = spool_dir / f"{stream}.ndjson"
        if not spool.exists() or not spool.stat().st_size:
            _empty(con, stream)  # a stream the input did not touch: nothing to check
            continue
        source = f"read_json_objects({_quote(str(spool))}, format = 'newline_delimited')"
        try:
            received[stream] = _check(con, stream, source)
        except duckdb.InvalidInputException as error:  # a line of a BATCH file or a record that is not JSON
            raise BadInput(
                f"the {stream} records cannot be read ({_reason(error)}); nothing was applied: check the "
                "tap's output (a BATCH file cut short or not UTF-8?)"
            ) from None
        _set_aside(con, stream)
        con.execute(f"DROP TABLE IF EXISTS stg_{stream}; ALTER TABLE chk_{stream} RENAME TO stg_{stream}")
    return received


def _reason(error: duckdb.Error) -> str:
    """DuckDB's reason without the spool's path (the position stays; the record's content is never in it)."""
    text = str(error).removeprefix("Invalid Input Error: ").strip()
    return re.sub(r' (while reading|in) file "[^"]*"', "", text)


def _empty(con: duckdb.DuckDBPyConnection, stream: str) -> None:
    """``stg_<stream>`` with no rows, typed as a checked stream's (one statement, not a pass over nothing)."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE stg_{stream} AS "
        f"SELECT {', '.join(columns(stream))}, {_deleted_at(stream)}, NULL::BIGINT AS _line "
        "FROM (SELECT NULL::VARCHAR[] AS s, NULL::VARCHAR[] AS t WHERE false)"
    )


def _check(con: duckdb.DuckDBPyConnection, stream: str, source: str) -> int:
    """``chk_<stream>``: every record typed and checked in one pass, and numbered; return how many were read.

    The record's text is kept only when it breaks the contract, for ``stg_rejects``. Staging runs with
    preserve_insertion_order on, so the table keeps input order in parallel and its rowid numbers the lines.
    """
    paths = _paths(stream)
    row = con.execute(
        f"CREATE OR REPLACE TEMP TABLE chk_{stream} AS "
        f"SELECT {', '.join(columns(stream))}, {_deleted_at(stream)}, "
        "problem, CASE WHEN problem IS NOT NULL THEN json END AS json "
        f"FROM (SELECT *, nullif(concat_ws('; ', {', '.join(_checks(stream))}), '') AS problem "
        f"FROM (SELECT json, json_extract_string(json, {paths}) AS s, json_type(json, {paths}) AS t, "
        f"{_unknown(stream)} AS unknown FROM {source}))"
    ).fetchone()
    con.execute(f"ALTER TABLE chk_{stream} ADD COLUMN _line BIGINT")
    # a new table's rowids start at 0, or higher inside a transaction: count from its first
    con.execute(f"UPDATE chk_{stream} SET _line = rowid - (SELECT min(rowid) FROM chk_{stream}) + 1")
    return int(row[0]) if row else 0


def _set_aside(con: duckdb.DuckDBPyConnection, stream: str) -> None:
    """Move the records that break the contract to ``stg_rejects``; of several of one key keep the last.

    Deleting in place keeps the checked table as the staged one: no copy of the stream.
    """
    table = f"chk_{stream}"
    con.execute(
        f"INSERT INTO stg_rejects SELECT '{stream}', {_key_expr(stream)}, problem, json "
        f"FROM {table} WHERE problem IS NOT NULL"
    )
    con.execute(f"DELETE FROM {table} WHERE problem IS NOT NULL")
    keys = contract.key_properties(stream)
    same_key = " AND ".join(f"c.{k} = d.{k}" for k in keys)
    con.execute(
        f"DELETE FROM {table} c USING (SELECT {', '.join(keys)}, max(_line) AS last FROM {table} "
        f"GROUP BY ALL HAVING count(*) > 1) d WHERE {same_key} AND c._line < d.last"
    )
    con.execute(f"ALTER TABLE {table} DROP COLUMN problem")
    con.execute(f"ALTER TABLE {table} DROP COLUMN json")


def other_streams(spool_dir: Path) -> dict[str, int]:
    """Streams the input had that are not standard roster streams (not imported), with their record counts."""
    counts = {}
    for spool in sorted(spool_dir.glob("*.ndjson")):
        if spool.stem not in contract.STREAMS:
            with spool.open("rb") as handle:
                counts[spool.stem] = sum(1 for _ in handle)
    return counts


_REFERENCES = [
    # (stream, column, what, SQL set of known ids)
    ("sections", "school_id", "school", "SELECT id FROM stg_schools"),
    ("enrollments", "section_id", "section", "SELECT id FROM stg_sections"),
    (
        "enrollments",
        "user_id",
        "student or staff member",
        "SELECT id FROM stg_students UNION ALL SELECT id FROM stg_staff",
    ),
    ("student_contacts", "student_id", "student", "SELECT id FROM stg_students"),
    ("student_contacts", "contact_id", "contact", "SELECT id FROM stg_contacts"),
]


def check_references(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Set aside records pointing at a school, section, student or contact unknown to the input and the store.

    A section with no school is set aside too (it would belong to no community); a deleted section is not
    checked (its deletion needs no school).
    """
    store_known = {
        "school": "SELECT school_id FROM community_sources WHERE source = $source",
        "section": "SELECT section_id FROM classes WHERE source = $source",
        "student or staff member": "SELECT source_id FROM person_sources WHERE source = $source "
        "AND kind IN ('student', 'staff')",
        "student": "SELECT source_id FROM person_sources WHERE source = $source AND kind = 'student'",
        "contact": "SELECT source_id FROM person_sources WHERE source = $source AND kind = 'parent'",
    }
    for stream, column, what, known in _REFERENCES:
        keys = " || '/' || ".join(contract.key_properties(stream))
        unknown = f"coalesce({column} NOT IN ({known} UNION ALL {store_known[what]}), true)"
        if stream == "sections":
            unknown += " AND _deleted_at IS NULL"
        problem = f"coalesce('{column}: unknown {what} ' || {column}, 'missing {column}')"
        if column == "section_id":  # a class the source sends deleted, its enrollments still active
            problem = (
                f"CASE WHEN {column} IN (SELECT id FROM mirror_delta_sections WHERE _deleted_at IS NOT NULL) "
                f"THEN '{column}: class ' || {column} || ' is being deleted in the source (status "
                f"tobedeleted): the enrollment is not imported' ELSE {problem} END"
            )
        con.execute(
            f"INSERT INTO stg_rejects SELECT '{stream}', {keys}, {problem}, to_json(r) "
            f"FROM stg_{stream} r WHERE {unknown}",
            {"source": source},
        )
        con.execute(f"DELETE FROM stg_{stream} WHERE {unknown}", {"source": source})
