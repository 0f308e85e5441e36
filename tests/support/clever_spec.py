"""Validators built from Clever's official Swagger 2.0 specs (../shared/reference/clever/v3.0*.yml).

Swagger 2.0 definitions are not JSON Schema as they stand: ``x-nullable: true`` means null is allowed too,
and a ``$ref`` with siblings must keep only the reference. This converts them and resolves every ``$ref``
against the spec's own ``#/definitions``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    nullable = node.get("x-nullable") is True
    if "$ref" in node:
        schema: dict[str, Any] = {"$ref": node["$ref"]}
        return {"anyOf": [schema, {"type": "null"}]} if nullable else schema
    out = {
        key: _convert(value) for key, value in node.items() if not key.startswith("x-") and key != "format"
    }
    if key_is_map(node):
        out["properties"] = {name: _convert(sub) for name, sub in node["properties"].items()}
    if nullable:
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    out.pop("discriminator", None)
    return out


def key_is_map(node: dict[str, Any]) -> bool:
    return isinstance(node.get("properties"), dict)


@cache
def _definitions(spec_path: Path) -> dict[str, Any]:
    spec = yaml.safe_load(spec_path.read_text())
    return {name: _convert(schema) for name, schema in spec["definitions"].items()}


def validator(spec_path: Path, definition: str) -> Draft7Validator:
    """A validator for one definition of the spec (e.g. ``UsersResponse``)."""
    definitions = _definitions(spec_path)
    if definition not in definitions:
        raise KeyError(f"{spec_path.name} has no definition {definition!r}")
    return Draft7Validator({"$ref": f"#/definitions/{definition}", "definitions": definitions})


def errors(spec_path: Path, definition: str, instance: Any) -> list[str]:
    """Every violation, as 'path: message' lines (empty when the instance is valid)."""
    found = validator(spec_path, definition).iter_errors(instance)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in found]
