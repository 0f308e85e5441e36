"""The options form and the district's mapping file: read one from the other, validate before writing.

The form's fields are the seed's options; each is a key of ``districts/<slug>/mapping.yml``. Saving edits
the file's YAML in place (comments and other keys stay), validates the result with the engine's own
``load_mapping`` (schema and rules) in a scratch copy beside it, and writes it only when it is valid.
Errors come back per field: the mapping's ``file:line: key: message`` lines, keyed by the form field the
key belongs to. A school's section filters are rules of their own in the file (named ``console: ...`` and
limited to that school with ``when: {school: [...]}``); rules written by hand are kept, first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from bloomz_console import engine
from bloomz_console.project import MAPPING, ProjectError, load_yaml, write_yaml

LIMIT_ENTITIES = ("classes", "class_memberships", "people")
LIMIT_KINDS = ("removals", "updates")
# The form field an error about a mapping key belongs to, by the key's first parts.
FIELD_OF_KEY = {
    "students.id_field": "id_field",
    "contacts.field": "contact_field",
    "contacts.include": "contact_include",
    "sections.class_name": "class_name",
    "sections.rules": "sections",
    "options.keep_manual_staff": "keep_manual_staff",
    "options.recreate_archived": "recreate_archived",
    "safety_limits": "limits",
}
_ERROR_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<key>[^:]+): (?P<message>.*)$")


@dataclass
class Form:
    """The option values a page shows: from the file, or as the admin just typed them."""

    id_field: str = "sis_id"
    contact_field: str = "type"
    contact_include: list[str] = field(default_factory=list)
    class_name: str = "{{ section.name }}"
    keep_manual_staff: bool = True
    recreate_archived: bool = False
    leave_out_subjects: list[str] = field(default_factory=list)
    leave_out_types: list[str] = field(default_factory=list)
    leave_out_names: str = ""  # comma-separated patterns
    limits: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # kind -> entity -> limit
    hand_rules: list[dict[str, Any]] = field(default_factory=list)  # rules of the file not made here


@dataclass
class Loaded:
    form: Form
    mapping: engine.Mapping | None  # None when the file is not valid
    errors: dict[str, list[str]]  # form field ("" for the page) -> messages


def rule_name(school_slug: str, what: str) -> str:
    return f"console: {school_slug} leaves out {what}"


def load(mapping_file: Path, school_id: str, school_slug: str) -> Loaded:
    """The form as the file says it (resolved over the source's defaults) and the file's errors."""
    try:
        mapping = engine.load_mapping(mapping_file)
    except engine.MappingError as err:
        return Loaded(_form_from_raw(mapping_file, school_id, school_slug), None, errors_by_field(str(err)))
    return Loaded(_form(mapping.resolved, school_id, school_slug), mapping, {})


def _form_from_raw(mapping_file: Path, school_id: str, school_slug: str) -> Form:
    """A broken file still shows what it says, where it can be read."""
    try:
        document = load_yaml(mapping_file)
    except ProjectError:
        return Form()
    return _form(document if isinstance(document, dict) else {}, school_id, school_slug)


def _form(document: dict[str, Any], school_id: str, school_slug: str) -> Form:
    def get(*path: str, default: Any = None) -> Any:
        node: Any = document
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    form = Form(
        id_field=get("students", "id_field", default="sis_id"),
        contact_field=get("contacts", "field", default="type"),
        contact_include=[str(v) for v in get("contacts", "include", default=[]) or []],
        class_name=get("sections", "class_name", default="{{ section.name }}"),
        keep_manual_staff=bool(get("options", "keep_manual_staff", default=True)),
        recreate_archived=bool(get("options", "recreate_archived", default=False)),
        limits={
            kind: {
                entity: dict(get("safety_limits", kind, entity, default={}) or {})
                for entity in LIMIT_ENTITIES
            }
            for kind in LIMIT_KINDS
        },
    )
    for rule in get("sections", "rules", default=[]) or []:
        when = rule.get("when") or {}
        if rule.get("name") == rule_name(school_slug, "subjects"):
            form.leave_out_subjects = list(when.get("subject") or [])
        elif rule.get("name") == rule_name(school_slug, "section types"):
            form.leave_out_types = [when["section_type"]] if when.get("section_type") else []
        elif rule.get("name") == rule_name(school_slug, "names"):
            form.leave_out_names = ", ".join(when.get("name") or [])
        elif not str(rule.get("name", "")).startswith("console: "):
            form.hand_rules.append(dict(rule))
    return form


def form_from_post(data: Any) -> Form:
    """The form as posted (a Starlette FormData or any multi-dict with getlist)."""
    form = Form(
        id_field=str(data.get("id_field") or ""),
        contact_field=str(data.get("contact_field") or ""),
        class_name=str(data.get("class_name") or ""),
        keep_manual_staff=data.get("keep_manual_staff") == "on",
        recreate_archived=data.get("recreate_archived") == "on",
        leave_out_subjects=[str(v) for v in data.getlist("leave_out_subject")],
        leave_out_types=[str(v) for v in data.getlist("leave_out_type")],
        leave_out_names=str(data.get("leave_out_names") or ""),
    )
    chosen = (
        data.getlist(f"include_{form.contact_field}")
        if form.contact_field in ("relationship", "type")
        else []
    )
    others = [v.strip() for v in str(data.get(f"include_other_{form.contact_field}") or "").split(",")]
    form.contact_include = list(dict.fromkeys([*map(str, chosen), *filter(None, others)]))
    for kind in LIMIT_KINDS:
        form.limits[kind] = {}
        for entity in LIMIT_ENTITIES:
            limit: dict[str, Any] = {}
            for unit, cast in (("percent", float), ("count", int)):
                text = str(data.get(f"{kind}_{entity}_{unit}") or "").strip()
                if text:
                    number: Any
                    try:
                        number = cast(text)
                    except ValueError:
                        number = text  # the schema says what is allowed, next to the field
                    limit[unit] = int(number) if isinstance(number, float) and number.is_integer() else number
            form.limits[kind][entity] = limit
    return form


def save(mapping_file: Path, form: Form, school_id: str, school_slug: str, *, write: bool) -> Loaded:
    """Apply the form to the file's YAML and validate; write the file only if ``write`` and it is valid."""
    document = load_yaml(mapping_file)
    _apply(document, form, school_id, school_slug)
    scratch = mapping_file.with_name(f".{MAPPING}.check")
    try:
        write_yaml(scratch, document)
        try:
            mapping = engine.load_mapping(scratch)
        except engine.MappingError as err:
            text = str(err).replace(scratch.name, MAPPING)
            return Loaded(form, None, errors_by_field(text))
    finally:
        scratch.unlink(missing_ok=True)
    if write:
        write_yaml(mapping_file, document)
    form.hand_rules = _form(mapping.resolved, school_id, school_slug).hand_rules
    return Loaded(form, mapping, {})


def _section(document: CommentedMap, name: str) -> CommentedMap:
    if not isinstance(document.get(name), dict):
        document[name] = CommentedMap()
    section: CommentedMap = document[name]
    return section


def _apply(document: CommentedMap, form: Form, school_id: str, school_slug: str) -> None:
    _section(document, "students")["id_field"] = form.id_field
    contacts = _section(document, "contacts")
    contacts["field"] = form.contact_field
    contacts["include"] = CommentedSeq(form.contact_include)
    sections = _section(document, "sections")
    sections["class_name"] = form.class_name
    rules = [
        r
        for r in sections.get("rules") or []
        if not str(r.get("name", "")).startswith(f"console: {school_slug} ")
    ]
    mine: list[tuple[str, dict[str, Any]]] = []
    if form.leave_out_subjects:
        mine.append((rule_name(school_slug, "subjects"), {"subject": form.leave_out_subjects}))
    for section_type in form.leave_out_types[:1]:  # a rule takes one type; two types leave out every section
        mine.append((rule_name(school_slug, "section types"), {"section_type": section_type}))
    patterns = [p.strip() for p in form.leave_out_names.split(",") if p.strip()]
    if patterns:
        mine.append((rule_name(school_slug, "names"), {"name": patterns}))
    for name, when in mine:
        rules.append(CommentedMap(name=name, action="exclude", when=CommentedMap(school=[school_id], **when)))
    if rules or "rules" in sections:
        sections["rules"] = CommentedSeq(rules)
    options = _section(document, "options")
    options["keep_manual_staff"] = form.keep_manual_staff
    options["recreate_archived"] = form.recreate_archived
    limits = _section(document, "safety_limits")
    for kind in LIMIT_KINDS:
        per_kind = limits.get(kind) if isinstance(limits.get(kind), dict) else CommentedMap()
        for entity in LIMIT_ENTITIES:
            value = form.limits.get(kind, {}).get(entity)
            if value:
                per_kind[entity] = CommentedMap(value)
            else:
                per_kind.pop(entity, None)
        limits[kind] = per_kind


def errors_by_field(text: str) -> dict[str, list[str]]:
    """The mapping's error lines, by the form field they concern ("" when none fits)."""
    errors: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = _ERROR_LINE.match(line.strip())
        key = match["key"] if match else ""
        name = next((f for prefix, f in FIELD_OF_KEY.items() if key.startswith(prefix)), "")
        errors.setdefault(name, []).append(
            f"line {match['line']}: {match['key']}: {match['message']}" if match else line.strip()
        )
    return errors


def add_school(mapping_file: Path, school_id: str) -> None:
    """List a picked school in ``communities.schools`` (unless the file imports ``all``)."""
    document = load_yaml(mapping_file)
    communities = _section(document, "communities")
    schools = communities.get("schools")
    if schools == "all":
        return
    if not isinstance(schools, list):
        schools = communities["schools"] = CommentedSeq()
    if school_id not in schools:
        schools.append(school_id)
        write_yaml(mapping_file, document)
