"""Read one mapping file: YAML with the line of every key, validated against the mapping schema.

Errors become ``MappingError`` text an engineer can act on without opening the schema:
``districts/lincoln/mapping.yml:12: students.id_field: 'sis' is not allowed; allowed values: ...``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from plugin_runtime.failures import Failure

KeyPath = tuple[str | int, ...]


class MappingError(Failure, ValueError):
    """A mapping file is wrong; the text names the file, the line, the key and what is allowed."""


def display_path(path: Path) -> str:
    """The path as a reader would type it: relative to the working directory when under it."""
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd()) else str(path)
    except ValueError:  # another drive on Windows
        return str(path)


def dotted(path: Sequence[str | int]) -> str:
    """``("sections", "rules", 0, "when")`` → ``sections.rules[0].when``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


@dataclass(frozen=True)
class MappingFile:
    """One parsed, schema-valid mapping file."""

    path: Path
    data: dict[str, Any]
    lines: dict[KeyPath, int]  # the line of each key (1-based)

    def line_of(self, path: Sequence[str | int]) -> int:
        """The line of a key, or of its nearest parent the file has."""
        key = tuple(path)
        while key not in self.lines and key:
            key = key[:-1]
        return self.lines.get(key, 1)

    def error(self, path: Sequence[str | int], message: str) -> MappingError:
        return MappingError(f"{display_path(self.path)}:{self.line_of(path)}: {dotted(path)}: {message}")


@cache
def mapping_schema() -> dict[str, Any]:
    text = (resources.files("roster_streams.schemas") / "mapping.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def read_mapping_file(path: Path) -> MappingFile:
    """Parse and validate one file (no ``extends`` resolution: that needs every file valid first)."""
    text = _read_text(path)
    data, lines = _parse_yaml(path, text)
    mapping_file = MappingFile(path, data, lines)
    errors = sorted(
        Draft202012Validator(mapping_schema()).iter_errors(data),
        key=lambda e: mapping_file.line_of(e.absolute_path),
    )
    if errors:
        raise MappingError("\n".join(_explain(mapping_file, error) for error in errors))
    return mapping_file


# A mapping file is a few kilobytes of settings: these bounds refuse a hostile one (a huge file, YAML aliases
# expanding a billion times, deep nesting) quickly, with the line, instead of running out of time or memory.
MAX_FILE_BYTES = 256 * 1024
MAX_NODES = 10_000  # keys and values, aliases counted each time they are used
MAX_DEPTH = 50
MAX_VALUE_CHARS = 10_000


def _read_text(path: Path) -> str:
    shown = display_path(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise MappingError(f"{shown}: cannot read the mapping file: {exc.strerror}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise MappingError(
            f"{shown}: the file is larger than {MAX_FILE_BYTES // 1024} KB; is it a mapping file?"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise MappingError(f"{shown}:{line}: the file is not UTF-8 text (save it as UTF-8)") from None


def _parse_yaml(path: Path, text: str) -> tuple[dict[str, Any], dict[KeyPath, int]]:
    loader = None
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        lines: dict[KeyPath, int] = {}
        if node is not None:
            _record_lines(path, node, lines)  # bounded: before anything is built from the nodes
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise MappingError(f"{display_path(path)}:{line}: YAML syntax error: {exc.problem}") from exc
    except yaml.reader.ReaderError as exc:  # a control character YAML does not allow
        line = text[: exc.position].count("\n") + 1
        raise MappingError(
            f"{display_path(path)}:{line}: YAML error: the control character U+{exc.character:04X} is not "
            "allowed in YAML"
        ) from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{display_path(path)}: YAML error: {exc}") from exc
    except RecursionError:
        raise MappingError(f"{display_path(path)}: YAML nested too deeply to be a mapping file") from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None or not isinstance(data, dict):
        raise MappingError(f"{display_path(path)}:1: (top level): a mapping file is a YAML mapping of keys")
    return data, lines


def _record_lines(source: Path, root: yaml.Node, lines: dict[KeyPath, int]) -> None:
    """The line of every key; refuses a key written twice, and a file past the bounds above."""
    pending: list[tuple[KeyPath, yaml.Node]] = [((), root)]
    visited = 0
    while pending:
        path, node = pending.pop()
        line = node.start_mark.line + 1
        lines.setdefault(path, line)
        visited += 1

        def refuse(why: str, path: KeyPath = path, line: int = line) -> MappingError:
            shown = dotted(path[:6]) + ("..." if len(path) > 6 else "")
            return MappingError(f"{display_path(source)}:{line}: {shown}: {why}")

        if visited > MAX_NODES:
            raise refuse(f"the file expands to more than {MAX_NODES:,} keys and values (YAML aliases?)")
        if len(path) > MAX_DEPTH:
            raise refuse(f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, yaml.ScalarNode) and len(node.value) > MAX_VALUE_CHARS:
            raise refuse(f"a value of {len(node.value):,} characters (at most {MAX_VALUE_CHARS:,})")
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = (*path, str(key_node.value)[:100])
                line = key_node.start_mark.line + 1
                if key in lines:  # PyYAML keeps the last silently; a second `students:` block is a mistake
                    raise refuse(
                        f"the key appears twice (first on line {lines[key]}); write it once", key, line
                    )
                lines[key] = line  # point at the key, where the reader looks
                pending.append((key, value_node))
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(((*path, index), item) for index, item in enumerate(node.value))


def _explain(mapping_file: MappingFile, error: ValidationError) -> str:
    """Turn one jsonschema error into ``file:line: key: what is wrong; what is allowed``."""
    path: KeyPath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    if error.validator == "additionalProperties" and isinstance(value, dict):
        known = schema.get("properties", {})
        allowed = f"unknown key; allowed keys: {', '.join(known)}"
        unknown = sorted(key for key in value if key not in known)
        return "\n".join(str(mapping_file.error((*path, key), allowed)) for key in unknown)
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in schema["enum"] if v is not None)
        return str(mapping_file.error(path, f"{value!r} is not allowed; allowed values: {allowed}"))
    if error.validator == "const":
        return str(mapping_file.error(path, f"{value!r} is not allowed; allowed value: {schema['const']}"))
    if error.validator == "type":
        expected = " or ".join(_type_names(schema["type"]))
        return str(mapping_file.error(path, f"{value!r} is not allowed; expected type: {expected}"))
    if error.validator == "required":
        required = ", ".join(schema["required"])
        return str(mapping_file.error(path, f"{error.message}; required keys: {required}"))
    if error.validator in ("anyOf", "oneOf"):
        allowed = " or ".join(_describe(option) for option in schema[error.validator])
        return str(mapping_file.error(path, f"{value!r} is not allowed; allowed: {allowed}"))
    return str(mapping_file.error(path, error.message))


def _type_names(types: str | Iterable[str]) -> list[str]:
    names = {"object": "mapping", "array": "list", "null": "null (empty)"}
    return [names.get(t, t) for t in ([types] if isinstance(types, str) else types)]


def _describe(schema: dict[str, Any], plural: bool = False) -> str:
    """A short reader's description of what a sub-schema accepts."""
    if "const" in schema:
        return repr(schema["const"])
    if "enum" in schema:
        return ("values from " if plural else "one of ") + ", ".join(str(v) for v in schema["enum"])
    if schema.get("type") == "array":
        return "a list of " + _describe(schema.get("items", {}), plural=True)
    if "type" in schema:
        names = _type_names(schema["type"])
        return " or ".join(f"{name}s" for name in names) if plural else "a " + " or ".join(names)
    return "anything"
