"""Mapping files: how a district's roster becomes Bloomz communities, classes and people.

``load_mapping`` reads a district file and the chain of files it ``extends``, validates every file against
``schemas/mapping.schema.json`` before resolving anything, merges them (objects key by key, lists and values
replaced), and compiles the templates in a Jinja2 sandbox. The resulting ``Mapping`` answers the target's
questions: which community a school goes to, whether a section becomes a class and under which rule, the
class name, a staff member's role, the import options and the safety limits.
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
from collections.abc import Mapping as TypingMapping
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from roster_streams import contract
from target_bloomz.mapping.templates import MappingTemplate, TemplateProblem
from target_bloomz.mapping.yaml_file import MappingError, MappingFile, display_path, dotted, read_mapping_file

__all__ = [
    "CommunityTarget",
    "ImportOptions",
    "Limit",
    "Mapping",
    "MappingError",
    "SafetyLimits",
    "load_mapping",
]

SOURCES = ("clever", "oneroster")
# The variables of each template, and the contract stream (or fields) each is a record of.
CLASS_NAME_VARIABLES: dict[str, str | tuple[str, ...]] = {
    "section": "sections",
    "course": ("name", "number"),
    "teacher": "staff",
    "term": "terms",
    "school": "schools",
}
COMMUNITY_NAME_VARIABLES = {"school": "schools"}


@dataclass(frozen=True)
class ImportOptions:
    """The seed's import toggles; defaults come from the mapping file, a run overrides them."""

    full_data: bool = False
    archive: bool = False  # only valid with full_data
    recreate_archived: bool = False
    keep_manual_staff: bool = True  # "Do not override staff assignments"
    scheduled: bool = False  # nightly autosync
    invite_teachers: bool = False
    invite_parents: bool = False
    invite_students: bool = False
    invite_from: str | None = None  # e-mail or source id of the admin invitations come from
    notify_to: tuple[str, ...] = ("School Admin",)  # community roles that get the Bulk Import Status e-mail
    default_region: str = "US"  # phone numbers → E.164


@dataclass(frozen=True)
class Limit:
    """A change over the count or over the percentage of the existing total is over the limit."""

    count: int | None
    percent: float | None


@dataclass(frozen=True)
class SafetyLimits:
    """Limits per entity (classes, class_memberships, people) on removals and on updates."""

    removals: dict[str, Limit]
    updates: dict[str, Limit]


@dataclass(frozen=True)
class CommunityTarget:
    """The Bloomz school community a source school goes to; ``key`` is stable across runs."""

    key: str
    name: str


@dataclass(frozen=True)
class _Rule:
    name: str
    when: dict[str, Any]
    outcome: str  # "include" | "exclude" for sections, the community role for staff


@dataclass(frozen=True)
class Mapping:
    """A resolved mapping: the district file merged over the files it extends."""

    path: Path  # the file the run used (district file, not the base)
    files: tuple[Path, ...]  # the extends chain, base first
    source: str  # "clever" | "oneroster"
    student_id_field: str  # "sis_id" | "student_number" | "state_id"
    contact_field: str  # "relationship" | "type"
    contact_include: tuple[str, ...]  # values of contact_field that become parents
    staff_default_role: str
    options: ImportOptions
    limits: SafetyLimits
    resolved: dict[str, Any] = field(repr=False, compare=False)  # the merged document (for --show)
    _community_name: MappingTemplate = field(repr=False, compare=False)
    _class_name: MappingTemplate = field(repr=False, compare=False)
    _section_rules: tuple[_Rule, ...] = field(repr=False, compare=False)
    _section_default: str = field(repr=False, compare=False)
    _staff_rules: tuple[_Rule, ...] = field(repr=False, compare=False)
    _chain: tuple[MappingFile, ...] = field(repr=False, compare=False)

    def where(self, *key: str | int) -> str:
        """``file:line: key`` of the file whose value of ``key`` the mapping uses."""
        owner = _last_setting(list(self._chain), key)
        return f"{display_path(owner.path)}:{owner.line_of(key)}: {dotted(key)}"

    def community_for(self, school: dict[str, Any]) -> CommunityTarget | None:
        """The community of a source school, or None when the mapping does not select the school."""
        communities = self.resolved["communities"]
        for group in communities["groups"]:
            if school["id"] in group["schools"]:
                return CommunityTarget(key=group["key"], name=group["name"])
        if communities["schools"] != "all" and school["id"] not in communities["schools"]:
            return None
        name = self._community_name.render(MappingError, school=_complete("schools", school))
        return CommunityTarget(key=f"{self.source}:{school['id']}", name=name or school["id"])

    def community_of_org(
        self, org: dict[str, Any], orgs: dict[str, dict[str, Any]]
    ) -> tuple[CommunityTarget | None, str | None]:
        """The community of a school or department record (``orgs``: every one by id), and why there is
        none when that is not the mapping's plain choice of schools (a department under no school)."""
        if org.get("org_type") != "department":
            return self.community_for(org), None
        rule = self.resolved["communities"].get("departments", "school")
        if rule == "community":
            return self.community_for(org), None
        name = f"department {org.get('name') or org['id']} ({org['id']})"
        if rule == "none":
            return None, f"{name} is not imported: communities.departments is none"
        school = _school_above(org, orgs)
        if school is None:
            parent = org.get("parent_id")
            above = (
                f"its parent org {parent} is not a school of the source" if parent else "it has no parent org"
            )
            return None, (
                f"{name} is under no school ({above}): its classes and people are not imported; "
                "communities.departments: community would import it as a community of its own"
            )
        return self.community_for(school), None

    def imports_contact(self, link: dict[str, Any]) -> bool:
        """Whether a student_contacts record passes the contact filter (values compared without case)."""
        value = link.get(self.contact_field)
        return value is not None and _folded(value) in _folded_all(list(self.contact_include))

    def section_rule(self, section: dict[str, Any], school: dict[str, Any]) -> tuple[bool, str]:
        """Whether a section becomes a class, and the name of the rule that decided."""
        for rule in self._section_rules:
            if self._section_matches(rule.when, section, school):
                return rule.outcome == "include", rule.name
        return self._section_default == "include", f"sections.default: {self._section_default}"

    def class_name(
        self,
        section: dict[str, Any],
        *,
        course: dict[str, Any] | None,
        teacher: dict[str, Any] | None,
        term: dict[str, Any] | None,
        school: dict[str, Any],
    ) -> str:
        """The class name from the template; "" when the data leaves it empty (the caller reports it).

        ``course`` None means the section's own course fields:
        ``{"name": course_name, "number": course_number}``.
        """
        if course is None:
            course = {"name": section.get("course_name"), "number": section.get("course_number")}
        return self._class_name.render(
            MappingError,
            section=_complete("sections", section),
            course=course,
            teacher=_complete("staff", teacher),
            term=_complete("terms", term),
            school=_complete("schools", school),
        )

    def section_rules_matching(self, section: dict[str, Any], school: dict[str, Any]) -> list[int]:
        """The indexes of the section rules whose ``when`` holds for a section (whatever their order)."""
        return [
            i
            for i, rule in enumerate(self._section_rules)
            if self._section_matches(rule.when, section, school)
        ]

    def staff_rules_matching(self, staff: dict[str, Any]) -> list[int]:
        """The indexes of the staff rules whose ``when`` holds for a staff member."""
        return [i for i, rule in enumerate(self._staff_rules) if _staff_matches(rule.when, staff)]

    def staff_role(self, staff: dict[str, Any]) -> str:
        """The community role a sync gives a staff member (a role raised by hand is the store's business)."""
        return self.staff_role_rule(staff)[0]

    def staff_role_rule(self, staff: dict[str, Any]) -> tuple[str, str]:
        """The role and the name of the rule that gave it (for the plan's "why")."""
        for rule in self._staff_rules:
            if _staff_matches(rule.when, staff):
                return rule.outcome, rule.name
        return self.staff_default_role, "staff.default_role"

    def with_options(self, **overrides: Any) -> Mapping:
        """Run-level overrides (target settings); None values are ignored."""
        known = {f.name: f for f in dataclasses.fields(ImportOptions)}
        changes: dict[str, Any] = {}
        for name, value in overrides.items():
            if name not in known:
                raise MappingError(f"unknown import option {name!r}; allowed options: {', '.join(known)}")
            if value is not None:
                changes[name] = _coerce_option(name, value, known[name].type)
        options = dataclasses.replace(self.options, **changes)
        if options.archive and not options.full_data:
            raise MappingError(
                "archive: Archive is only valid together with Full Data (turn full_data on, or archive off)"
            )
        return dataclasses.replace(self, options=options)

    def school_level(self, school: dict[str, Any]) -> str | None:
        """elementary, middle or high: ``communities.levels`` first, else the school's highest grade."""
        level = self.resolved["communities"]["levels"].get(school.get("id"))
        if level:
            return str(level)
        high = _grade_number(school.get("high_grade")) if school.get("high_grade") else None
        if high is None:
            return None
        return "elementary" if high <= 5 else "middle" if high <= 8 else "high"

    def _section_matches(self, when: dict[str, Any], section: dict[str, Any], school: dict[str, Any]) -> bool:
        checks = {
            "school_level": lambda wanted: self.school_level(school) in _as_list(wanted),
            "school": lambda wanted: section.get("school_id") in _as_list(wanted),
            "section_type": lambda wanted: section.get("section_type") == wanted,
            "subject": lambda wanted: _folded(section.get("subject")) in _folded_all(wanted),
            "grade": lambda wanted: bool(
                {_folded(g) for g in section.get("grades") or []} & set(_folded_all(wanted))
            ),
            "name": lambda wanted: _matches_pattern(section.get("name"), wanted),
            "course_name": lambda wanted: _matches_pattern(section.get("course_name"), wanted),
        }
        return all(checks[key](wanted) for key, wanted in when.items())


def load_mapping(path: str | Path | None, *, source: str | None = None) -> Mapping:
    """Load a mapping file (None: the packaged default for ``source``) and the files it extends."""
    if path is None:
        if source not in SOURCES:
            raise MappingError(
                f"no mapping file given and no known source {source!r}; sources: {', '.join(SOURCES)}"
            )
        path = _packaged(source)
    chain = _read_chain(Path(path).resolve())
    # The packaged default of the source sets every key: a file without `extends` builds on it.
    defaults = read_mapping_file(_packaged(chain[0].data["source"]))
    resolved = _merge([defaults.data, *(f.data for f in chain)])
    resolved.pop("extends", None)
    mapping = _build(chain, resolved)
    if source is not None and source != mapping.source:
        raise MappingError(
            f"{display_path(mapping.path)}: the mapping is for source {mapping.source!r} "
            f"but this run reads from {source!r}"
        )
    return mapping


def packaged_defaults() -> dict[str, Path]:
    """The shipped default mapping of each source."""
    return {source: _packaged(source) for source in SOURCES}


def _packaged(name: str) -> Path:
    return Path(str(resources.files("target_bloomz.mapping.defaults") / f"{name}.yml"))


def _read_chain(path: Path) -> list[MappingFile]:
    """The extends chain, base first; each file is schema-validated before its `extends` is followed."""
    chain = [read_mapping_file(path)]
    seen = [path.resolve()]
    while "extends" in chain[0].data:
        child = chain[0]
        base = _resolve_extends(child)
        if base.resolve() in seen:
            names = " → ".join(display_path(p) for p in [*seen[::-1], base])
            raise child.error(("extends",), f"extends cycle: {names}")
        if not base.is_file():
            raise child.error(("extends",), f"the base file {display_path(base)} does not exist")
        seen.insert(0, base.resolve())
        chain.insert(0, read_mapping_file(base))
    root = chain[0]
    if "source" not in root.data:
        raise root.error(
            (), "missing key 'source': a file without extends names it; allowed: clever, oneroster"
        )
    source, source_file = root.data["source"], root
    for child in chain[1:]:
        declared = child.data.get("source", source)
        if declared != source:
            raise child.error(
                ("source",),
                f"{declared!r} contradicts {display_path(source_file.path)}, which is for {source!r}; "
                "a district file keeps the source of the file it extends",
            )
    return chain


def _resolve_extends(mapping_file: MappingFile) -> Path:
    name = str(mapping_file.data["extends"])
    if "/" not in name and not name.endswith((".yml", ".yaml")):
        if name not in SOURCES:
            raise mapping_file.error(
                ("extends",),
                f"{name!r} is not a packaged default; allowed: {', '.join(SOURCES)}, or a .yml path",
            )
        return _packaged(name)
    return (mapping_file.path.parent / name).resolve()


def _merge(documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Objects merge key by key; lists and plain values from a later document replace earlier ones."""
    merged: dict[str, Any] = {}
    for document in documents:
        merged = _merge_two(merged, document)
    return merged


def _merge_two(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge_two(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _last_setting(chain: list[MappingFile], key: Sequence[str | int]) -> MappingFile:
    """The file whose value for ``key`` won the merge (for error lines)."""
    for mapping_file in reversed(chain):
        node: Any = mapping_file.data
        for part in key:
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            return mapping_file
    return chain[-1]


def _build(chain: list[MappingFile], resolved: dict[str, Any]) -> Mapping:
    def error_at(*key: str | int) -> Any:
        return lambda message: _last_setting(chain, key).error(key, message)

    options = resolved["options"]
    if options["archive"] and not options["full_data"]:
        raise error_at("options", "archive")(
            "Archive is only valid together with Full Data (set options.full_data: true, or archive: false)"
        )
    _check_groups(chain, resolved["communities"]["groups"])
    invitations = resolved["invitations"]
    limits = resolved["safety_limits"]
    return Mapping(
        path=chain[-1].path,
        files=tuple(f.path for f in chain),
        source=resolved["source"],
        student_id_field=resolved["students"]["id_field"],
        contact_field=resolved["contacts"]["field"],
        contact_include=tuple(resolved["contacts"]["include"]),
        staff_default_role=resolved["staff"]["default_role"],
        options=ImportOptions(
            full_data=options["full_data"],
            archive=options["archive"],
            recreate_archived=options["recreate_archived"],
            keep_manual_staff=options["keep_manual_staff"],
            scheduled=options["scheduled"],
            invite_teachers=invitations["teachers"],
            invite_parents=invitations["parents"],
            invite_students=invitations["students"],
            invite_from=invitations["from"],
            notify_to=tuple(invitations["notify_to"]),
            default_region=invitations["default_region"],
        ),
        limits=SafetyLimits(
            removals={k: _limit(v) for k, v in limits["removals"].items()},
            updates={k: _limit(v) for k, v in limits["updates"].items()},
        ),
        resolved=resolved,
        _community_name=_compile(chain, ("communities", "name"), resolved, COMMUNITY_NAME_VARIABLES),
        _class_name=_compile(chain, ("sections", "class_name"), resolved, CLASS_NAME_VARIABLES),
        _section_rules=tuple(
            _Rule(rule["name"], rule.get("when") or {}, rule["action"])
            for rule in resolved["sections"]["rules"]
        ),
        _section_default=resolved["sections"]["default"],
        _staff_rules=tuple(
            _Rule(rule["name"], rule.get("when") or {}, rule["role"]) for rule in resolved["staff"]["rules"]
        ),
        _chain=tuple(chain),
    )


def _limit(spec: dict[str, Any]) -> Limit:
    percent = spec.get("percent")
    return Limit(count=spec.get("count"), percent=None if percent is None else float(percent))


def _compile(
    chain: list[MappingFile],
    key: tuple[str, str],
    resolved: dict[str, Any],
    variables: TypingMapping[str, str | tuple[str, ...]],
) -> MappingTemplate:
    owner = _last_setting(chain, key)
    where = f"{display_path(owner.path)}:{owner.line_of(key)}: {dotted(key)}"
    fields = {name: _contract_fields(of) if isinstance(of, str) else of for name, of in variables.items()}
    try:
        return MappingTemplate(resolved[key[0]][key[1]], fields, where)
    except TemplateProblem as problem:
        raise owner.error(key, str(problem)) from problem


def _check_groups(chain: list[MappingFile], groups: list[dict[str, Any]]) -> None:
    owner: dict[str, str] = {}
    keys: set[str] = set()
    for index, group in enumerate(groups):
        if group["key"] in keys:
            raise _last_setting(chain, ("communities", "groups")).error(
                ("communities", "groups", index, "key"), f"community key {group['key']!r} is used twice"
            )
        keys.add(group["key"])
        for school_id in group["schools"]:
            if school_id in owner:
                raise _last_setting(chain, ("communities", "groups")).error(
                    ("communities", "groups", index, "schools"),
                    f"school {school_id!r} is already in community {owner[school_id]!r}; "
                    "a school joins one community",
                )
            owner[school_id] = group["key"]


def _school_above(org: dict[str, Any], orgs: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The nearest school among a department's parent orgs (a loop in the parents ends the search)."""
    seen = {org["id"]}
    parent = orgs.get(org.get("parent_id") or "")
    while parent is not None and parent["id"] not in seen:
        if parent.get("org_type") != "department":
            return parent
        seen.add(parent["id"])
        parent = orgs.get(parent.get("parent_id") or "")
    return None


def _complete(stream: str, record: dict[str, Any] | None) -> dict[str, Any] | None:
    """A record with every contract field present (None when absent), so templates may test any of them."""
    if record is None:
        return None
    full: dict[str, Any] = dict.fromkeys(_contract_fields(stream))
    full["extra"] = {}
    full.update(record)
    return full


@cache
def _contract_fields(stream: str) -> tuple[str, ...]:
    return tuple(contract.load_schema(stream)["properties"])


def _coerce_option(name: str, value: Any, annotation: Any) -> Any:
    if name == "notify_to":
        items = value.split(",") if isinstance(value, str) else list(value)
        return tuple(item.strip() for item in items if item.strip())
    if annotation in ("bool", bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise MappingError(f"import option {name}: {value!r} is not allowed; expected type: boolean")
    if name == "default_region":
        region = str(value).strip().upper()
        if len(region) != 2 or not region.isalpha():
            raise MappingError(f"import option default_region: {value!r} is not a two-letter country code")
        return region
    return str(value)


_GRADE_WORDS = {
    "prekindergarten": -1,
    "pk": -1,
    "tk": -1,
    "transitionalkindergarten": -1,
    "infanttoddler": -1,
    "preschool": -1,
    "kindergarten": 0,
    "kg": 0,
    "k": 0,
    "postgraduate": 13,
}


def _grade_number(grade: Any) -> int | None:
    text = str(grade).strip().lower().replace(" ", "").replace("-", "")
    if text.isdigit():
        return int(text)
    return _GRADE_WORDS.get(text)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _folded(value: Any) -> str:
    return str(value).casefold() if value is not None else ""


def _folded_all(value: Any) -> list[str]:
    return [_folded(v) for v in _as_list(value)]


def _matches_pattern(text: Any, patterns: Any) -> bool:
    return text is not None and any(fnmatch.fnmatchcase(_folded(text), p) for p in _folded_all(patterns))


def _staff_matches(when: dict[str, Any], staff: dict[str, Any]) -> bool:
    if "roles" in when and not set(when["roles"]) & set(staff.get("roles") or []):
        return False
    return "title" not in when or _matches_pattern(staff.get("title"), when["title"])
