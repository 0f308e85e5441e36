"""The typed columns of a roster stream, from its contract schema: what staging extracts and the source
mirror stores (``src_<stream>`` has the columns of ``stg_<stream>``).

Columns are SQL expressions over a record's field texts ``s[i]`` and JSON types ``t[i]`` (staging.py).
"""

from __future__ import annotations

from typing import Any

from roster_streams import contract

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


def _kinds(prop: dict[str, Any]) -> list[str]:
    return prop["type"] if isinstance(prop["type"], list) else [prop["type"]]


def _types(prop: dict[str, Any]) -> list[str]:
    return [duck for kind in _kinds(prop) for duck in _JSON_TYPES[kind]]


def _fields(stream: str) -> list[tuple[str, dict[str, Any], str, str]]:
    """Each contract field with its SQL text ``s[i]`` and type ``t[i]``, i its place in ``_paths``."""
    properties = contract.load_schema(stream)["properties"]
    return [(name, prop, f"s[{i}]", f"t[{i}]") for i, (name, prop) in enumerate(properties.items(), 1)]


def _items(text: str, jtype: str, function: str) -> str:
    """SQL: ``function`` (json_extract_string or json_type) of each item of an array field, else NULL."""
    return f"CASE WHEN {jtype} = 'ARRAY' THEN {function}({text}, '$[*]') END"  # only an array's text is JSON


def columns(stream: str) -> list[str]:
    """SQL expressions extracting the typed columns of a stream from its field texts ``s`` and types ``t``."""
    columns = []
    for name, prop, text, jtype in _fields(stream):
        if name.startswith("_sdc_"):
            continue  # _deleted_at, see stage()
        kinds = _kinds(prop)
        if "array" in kinds:
            expr = f"coalesce({_items(text, jtype, 'json_extract_string')}, [])"
        elif "object" in kinds:
            expr = f"CASE WHEN {jtype} = 'OBJECT' THEN {text}::JSON ELSE '{{}}'::JSON END"
        elif "boolean" in kinds:
            expr = f"TRY_CAST({text} AS BOOLEAN)"
        else:
            expr = text
        columns.append(f"{expr} AS {name}")
    return columns
