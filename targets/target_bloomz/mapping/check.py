"""What ``bloomz-sync mapping validate`` checks beyond the file itself: its templates, rendered, and its
references to the source.

Without the source, every template is rendered against a sample record that has every contract field and
answers any ``extra`` field, once with a teacher, term and course and once without: a template past its
bounds, or one that fails on a section without a teacher, is found before a run. With the source's records
(``SourceRecords``: the schools, sections, terms and staff a tap sent), the class name template is rendered
for every section (a name the record's ``extra`` does not have is found here), and the school ids the
mapping names, and its rules, are checked against what the source has.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from roster_streams import contract
from target_bloomz.mapping import Mapping, MappingError
from target_bloomz.mapping.templates import TemplateLimit

_SAMPLE_TEXT = "sample"


@dataclass
class Findings:
    """Problems (the mapping is wrong: exit 1) and warnings (worth a look), each one line."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    extra_fields: set[str] = field(default_factory=set)  # `section.extra.x` the templates read


@dataclass
class SourceRecords:
    """The records of the source the checks need, by stream."""

    schools: list[dict[str, Any]] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    terms: list[dict[str, Any]] = field(default_factory=list)
    staff: list[dict[str, Any]] = field(default_factory=list)

    STREAMS = ("schools", "sections", "terms", "staff")


class _AnyExtra(dict[str, Any]):
    """A sample record's ``extra``: it has every field, and notes which ones a template asked for."""

    def __init__(self, variable: str, asked: set[str]) -> None:
        super().__init__()
        self._variable, self._asked = variable, asked

    def __getitem__(self, key: str) -> str:
        self._asked.add(f"{self._variable}.extra.{key}")
        return _SAMPLE_TEXT

    def get(self, key: str, default: Any = None) -> str:
        return self[key]

    def __contains__(self, key: object) -> bool:
        return True


def sample(stream: str, variable: str, asked: set[str]) -> dict[str, Any]:
    """A record of ``stream`` with every contract field filled in."""
    record: dict[str, Any] = {}
    for name, spec in contract.load_schema(stream)["properties"].items():
        kinds = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        if "array" in kinds:
            record[name] = [_SAMPLE_TEXT]
        elif "boolean" in kinds:
            record[name] = True
        elif "string" in kinds:
            record[name] = f"{_SAMPLE_TEXT}-{name}"
    record["extra"] = _AnyExtra(variable, asked)
    return record


def check_templates(mapping: Mapping) -> Findings:
    """Render every template against sample records (no source needed)."""
    findings = Findings()
    asked = findings.extra_fields
    school = sample("schools", "school", asked)
    listed = mapping.resolved["communities"]["schools"]
    if listed != "all" and listed:
        school["id"] = listed[0]  # a school the mapping selects, so its community name renders
    section = sample("sections", "section", asked)
    full = {
        "course": {"name": "sample course", "number": "1"},
        "teacher": sample("staff", "teacher", asked),
        "term": sample("terms", "term", asked),
    }
    bare = dict.fromkeys(full)
    findings.problems += _render(lambda: mapping.community_for(school))
    findings.problems += _render(lambda: mapping.class_name(section, school=school, **full))
    for message in _render(lambda: mapping.class_name(section, school=school, **bare)):
        if message not in findings.problems:
            findings.warnings.append(f"{message} (for a section without a teacher, term or course)")
    return findings


def _render(attempt: Any) -> list[str]:
    """The error of one render, if it fails."""
    try:
        attempt()
    except (MappingError, TemplateLimit) as error:
        return [str(error)]
    return []


def check_source(mapping: Mapping, source: SourceRecords) -> Findings:
    """Check the mapping against the source: school ids, every section's class name, rules that match."""
    findings = Findings()
    school_ids = {school["id"] for school in source.schools}
    for key, named in _school_references(mapping):
        for school_id in named:
            if school_id not in school_ids:
                findings.problems.append(
                    f"{mapping.where(*key)}: the source has no school {school_id!r} "
                    f"(its schools: {_listed(sorted(school_ids))})"
                )
    schools = {school["id"]: school for school in source.schools}
    selected: set[str] = set()
    failed: Counter[str] = Counter()
    for school in source.schools:
        try:
            if mapping.community_for(school):
                selected.add(school["id"])
        except (MappingError, TemplateLimit) as error:
            failed[str(error)] += 1
    findings.problems += [f"{message} (for {n} of the source's schools)" for message, n in failed.items()]
    sections = [s for s in source.sections if s.get("school_id") in selected and not s.get("_sdc_deleted_at")]
    _class_names(mapping, source, _Selected(sections, schools), findings)
    _rules(mapping, source, _Selected(sections, schools), findings)
    return findings


@dataclass
class _Selected:
    """The live sections of the schools the mapping selects, and every school by id."""

    sections: list[dict[str, Any]]
    schools: dict[str, dict[str, Any]]


def _school_references(mapping: Mapping) -> list[tuple[tuple[str | int, ...], list[str]]]:
    communities = mapping.resolved["communities"]
    found: list[tuple[tuple[str | int, ...], list[str]]] = []
    if communities["schools"] != "all":
        found.append((("communities", "schools"), list(communities["schools"])))
    for index, group in enumerate(communities["groups"]):
        found.append((("communities", "groups", index, "schools"), list(group["schools"])))
    if communities["levels"]:
        found.append((("communities", "levels"), list(communities["levels"])))
    for index, rule in enumerate(mapping.resolved["sections"]["rules"]):
        wanted = (rule.get("when") or {}).get("school")
        if wanted is not None:
            named = wanted if isinstance(wanted, list) else [wanted]
            found.append((("sections", "rules", index, "when", "school"), [str(n) for n in named]))
    return found


def _class_names(mapping: Mapping, source: SourceRecords, selected: _Selected, findings: Findings) -> None:
    teachers = {staff["id"]: staff for staff in source.staff}
    terms = {term["id"]: term for term in source.terms}
    failures: Counter[str] = Counter()
    sections, schools = selected.sections, selected.schools
    for section in sections:
        term = next((terms[t] for t in section.get("term_ids") or [] if t in terms), None)
        try:
            mapping.class_name(
                section,
                course=None,
                teacher=teachers.get(section.get("primary_teacher_id") or ""),
                term=term,
                school=schools[section["school_id"]],
            )
        except MappingError as error:
            failures[str(error)] += 1
        except TemplateLimit as error:
            findings.problems.append(str(error))
            return
    for message, count in failures.most_common():
        findings.problems.append(f"{message} (for {count} of the source's {len(sections)} sections)")


def _rules(mapping: Mapping, source: SourceRecords, selected: _Selected, findings: Findings) -> None:
    matched: Counter[int] = Counter()
    sections, schools = selected.sections, selected.schools
    for section in sections:
        matched.update(mapping.section_rules_matching(section, schools[section["school_id"]]))
    for index, rule in enumerate(mapping.resolved["sections"]["rules"]):
        if not matched[index]:
            findings.warnings.append(
                f"{mapping.where('sections', 'rules', index)}: rule {rule['name']!r} matches none of the "
                f"{len(sections)} sections of the selected schools"
            )
    staff_matched: Counter[int] = Counter()
    for staff in source.staff:
        staff_matched.update(mapping.staff_rules_matching(staff))
    for index, rule in enumerate(mapping.resolved["staff"]["rules"]):
        if not staff_matched[index]:
            findings.warnings.append(
                f"{mapping.where('staff', 'rules', index)}: rule {rule['name']!r} matches none of the "
                f"source's {len(source.staff)} staff members"
            )


def _listed(values: list[str], most: int = 10) -> str:
    shown = ", ".join(values[:most])
    return shown + (f" and {len(values) - most} more" if len(values) > most else "") if values else "none"
