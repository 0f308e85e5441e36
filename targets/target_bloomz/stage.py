"""Stage: the spooled NDJSON of each stream into typed DuckDB temp tables, checked set-based in SQL.

For every standard stream ``s`` this builds ``stg_<s>`` (one row per key, the last record wins) from the
contract schema in ``schemas/roster/``. A record that breaks the contract (missing key, wrong type, bad
date, unknown field, value outside an enum, a reference to an unknown section, student or contact) is
set aside into ``stg_rejects`` with its reason (and the record as received, so the run can still tell
which school it concerns: issue_scope.py): the run reports it, it never stops the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from bloomz_sync import contract

_JSON_TYPES = {
    "string": ["VARCHAR"],
    "boolean": ["BOOLEAN"],
    "integer": ["BIGINT", "UBIGINT"],
    "number": ["BIGINT", "UBIGINT", "DOUBLE"],
    "array": ["ARRAY"],
    "object": ["OBJECT"],
    "null": ["NULL"],
}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _types(prop: dict[str, Any]) -> list[str]:
    kinds = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    return [duck for kind in kinds for duck in _JSON_TYPES[kind]]


def _checks(stream: str) -> list[str]:
    """SQL expressions over ``json`` each yielding a problem message or NULL."""
    schema = contract.load_schema(stream)
    required = set(schema.get("required", []))
    checks = []
    for name, prop in schema["properties"].items():
        path = _quote(f"$.{name}")
        jtype = f"json_type(json, {path})"
        value = f"(json ->> {path})"
        if name in required:
            checks.append(f"CASE WHEN {jtype} IS NULL OR {jtype} = 'NULL' THEN 'missing {name}' END")
        allowed = ", ".join(_quote(t) for t in _types(prop))
        expected = " or ".join(prop["type"] if isinstance(prop["type"], list) else [prop["type"]])
        null_check = "" if name in required else f" OR ({jtype} = 'NULL' AND 'NULL' NOT IN ({allowed}))"
        checks.append(
            f"CASE WHEN {jtype} NOT IN ({allowed}, 'NULL'){null_check}"
            f" THEN '{name}: expected {expected}, got ' || lower({jtype}) END"
        )
        if prop.get("minLength"):
            checks.append(f"CASE WHEN {jtype} = 'VARCHAR' AND {value} = '' THEN '{name}: empty' END")
        if "enum" in prop:
            values = ", ".join(_quote(v) for v in prop["enum"] if v is not None)
            checks.append(
                f"CASE WHEN {jtype} = 'VARCHAR' AND {value} NOT IN ({values})"
                f" THEN '{name}: ' || {value} || ' is not one of {values.replace(chr(39), '')}' END"
            )
        items = prop.get("items", {})
        if "enum" in items:
            values = ", ".join(_quote(v) for v in items["enum"])
            checks.append(
                f"CASE WHEN {jtype} = 'ARRAY' AND len(list_filter(json_extract_string(json, "
                f"{_quote(f'$.{name}[*]')}), lambda x: x NOT IN ({values}))) > 0"
                f" THEN '{name}: a value is not one of {values.replace(chr(39), '')}' END"
            )
        elif items.get("type") == "string":
            checks.append(
                f"CASE WHEN {jtype} = 'ARRAY' AND len(list_filter(json_type(json, "
                f"{_quote(f'$.{name}[*]')}), lambda x: x <> 'VARCHAR')) > 0"
                f" THEN '{name}: expected an array of strings' END"
            )
        fmt = {"date-time": "TIMESTAMPTZ", "date": "DATE"}.get(prop.get("format", ""))
        if fmt:
            checks.append(
                f"CASE WHEN {jtype} = 'VARCHAR' AND TRY_CAST({value} AS {fmt}) IS NULL"
                f" THEN '{name}: not a valid {prop['format']}' END"
            )
    known = ", ".join(_quote(k) for k in schema["properties"])
    unknown = f"list_filter(json_keys(json), lambda k: k NOT IN ({known}) AND NOT starts_with(k, '_sdc_'))"
    checks.append(
        f"CASE WHEN len({unknown}) > 0 THEN 'unknown fields: ' || array_to_string({unknown}, ', ') END"
    )
    return checks


def columns(stream: str) -> list[str]:
    """SQL expressions extracting the typed columns of a stream from ``json``."""
    schema = contract.load_schema(stream)
    columns = []
    for name, prop in schema["properties"].items():
        if name.startswith("_sdc_"):
            continue  # _deleted_at below
        path = _quote(f"$.{name}")
        kinds = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        if "array" in kinds:
            expr = f"coalesce(json_extract_string(json, {_quote(f'$.{name}[*]')}), [])"
        elif "object" in kinds:
            expr = f"coalesce(json -> {path}, '{{}}'::JSON)"
        elif "boolean" in kinds:
            expr = f"TRY_CAST(json ->> {path} AS BOOLEAN)"
        else:
            expr = f"json ->> {path}"
        columns.append(f"{expr} AS {name}")
    return columns


def _key_expr(stream: str) -> str:
    keys = contract.key_properties(stream)
    return " || '/' || ".join(f"coalesce(json ->> {_quote('$.' + k)}, '?')" for k in keys)


def stage(con: duckdb.DuckDBPyConnection, spool_dir: Path) -> dict[str, int]:
    """Build ``stg_<stream>`` for every standard stream, and ``stg_rejects``; return records per stream."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stg_rejects "
        "(stream VARCHAR, record_key VARCHAR, problem VARCHAR, json JSON)"
    )
    received = {}
    for stream in contract.STREAMS:
        spool = spool_dir / f"{stream}.ndjson"
        if spool.exists() and spool.stat().st_size:
            source = f"read_json_objects({_quote(str(spool))}, format = 'newline_delimited')"
        else:
            source = "(SELECT NULL::JSON AS json WHERE false)"
        checks = ", ".join(_checks(stream))
        # One copy of the input in DuckDB: number the lines (the last record of a key wins) and check
        # them in the same pass; the numbering is a streaming window, so it costs no memory of its own.
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE chk_{stream} AS SELECT _line, json, "
            f"list_filter([{checks}], lambda x: x IS NOT NULL) AS problems "
            f"FROM (SELECT row_number() OVER () AS _line, json FROM {source})"
        )
        con.execute(
            f"INSERT INTO stg_rejects SELECT '{stream}', {_key_expr(stream)}, "
            f"array_to_string(problems, '; '), json FROM chk_{stream} WHERE len(problems) > 0"
        )
        keys = ", ".join(contract.key_properties(stream))
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE stg_{stream} AS SELECT {', '.join(columns(stream))}, "
            "TRY_CAST(json ->> '$._sdc_deleted_at' AS TIMESTAMPTZ) AS _deleted_at, _line "
            f"FROM chk_{stream} WHERE len(problems) = 0 "
            f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY _line DESC) = 1"
        )
        row = con.execute(f"SELECT count(*) FROM chk_{stream}").fetchone()
        received[stream] = int(row[0]) if row else 0
        con.execute(f"DROP TABLE chk_{stream}")  # free it before the next stream is read
    return received


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
        con.execute(
            f"INSERT INTO stg_rejects SELECT '{stream}', {keys}, "
            f"coalesce('{column}: unknown {what} ' || {column}, 'missing {column}'), to_json(r) "
            f"FROM stg_{stream} r WHERE {unknown}",
            {"source": source},
        )
        con.execute(f"DELETE FROM stg_{stream} WHERE {unknown}", {"source": source})
