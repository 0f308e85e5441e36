"""The shipped mapping files and the mapping schema: all valid, all documented."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from target_bloomz.mapping import ImportOptions, load_mapping, packaged_defaults

from tests.support.project import REPO_ROOT

MAPPINGS = resources.files("target_bloomz.mapping.defaults")
# The district examples live with their district's Meltano plugins: districts/<district>/mapping.yml.
DISTRICTS = sorted((REPO_ROOT / "districts").glob("*/mapping.yml"))
SHIPPED = sorted([Path(str(MAPPINGS / name)) for name in ("clever.yml", "oneroster.yml")] + DISTRICTS)


def test_a_default_per_source_ships_and_two_district_examples_come_with_the_project():
    names = [p.name for p in SHIPPED]
    assert "clever.yml" in names
    assert "oneroster.yml" in names
    assert len(DISTRICTS) >= 2
    assert {load_mapping(p).source for p in DISTRICTS} == {"clever", "oneroster"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_file_validates(path):
    mapping = load_mapping(path)
    assert mapping.path == path.resolve()
    assert mapping.files[-1] == path.resolve()


@pytest.mark.parametrize("source", ["clever", "oneroster"])
def test_packaged_default_follows_the_seeds(source):
    mapping = load_mapping(None, source=source)
    assert mapping.path == packaged_defaults()[source]
    assert mapping.source == source
    assert mapping.files == (mapping.path,)
    assert mapping.staff_default_role == "School Support Staff"
    # Pre-launch: no invitations, no removals; staff added by hand stay.
    assert mapping.options == ImportOptions()
    assert mapping.limits.removals["classes"].percent == 10.0
    assert set(mapping.limits.removals) == {"classes", "class_memberships", "people"}
    assert set(mapping.limits.updates) == {"classes", "class_memberships", "people"}


def test_clever_default_imports_parents_and_guardians_by_contact_type():
    mapping = load_mapping(None, source="clever")
    assert (mapping.contact_field, mapping.contact_include) == ("type", ("Parent/Guardian",))
    assert mapping.imports_contact({"relationship": "Other", "type": "Parent/Guardian"})
    assert mapping.imports_contact({"relationship": "Other", "type": "parent/guardian"})
    assert not mapping.imports_contact({"relationship": "Parent", "type": "Emergency"})
    assert not mapping.imports_contact({"relationship": "Parent", "type": None})


def _walk(schema, path="$"):
    yield path, schema
    for key in ("properties", "$defs"):
        for name, sub in schema.get(key, {}).items():
            yield from _walk(sub, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _walk(schema[key], f"{path}[{key}]")


def test_every_key_of_the_mapping_schema_is_documented():
    schema = json.loads((resources.files("roster_streams.schemas") / "mapping.schema.json").read_text())
    undocumented = [
        f"{path}.{name}"
        for path, sub in _walk(schema)
        for name, prop in sub.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert undocumented == []
    # Unknown keys are errors everywhere (a typo must never pass silently).
    objects = [path for path, sub in _walk(schema) if "properties" in sub]
    assert all(sub.get("additionalProperties") is False for _, sub in _walk(schema) if "properties" in sub), (
        objects
    )
