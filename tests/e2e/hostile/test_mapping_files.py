"""Hostile mapping files through `bloomz-sync mapping validate` and target-bloomz: YAML, schema, template and
sandbox-escape attempts.

Each case is a district file (extending the Clever default) that `mapping validate` refuses with exit 1,
naming the file and line, and that target-bloomz refuses the same way before any data moves: the good store
is left as it was. Files are bounded (size, YAML aliases, nesting) and so are templates (loop steps, value
size, output, render time): the cases that once hung the target now fail in well under a second.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import runner
from tests.support.district import district, singer_lines
from tests.support.hostile import assert_clean, assert_store

MESSAGES = singer_lines(district())


@dataclass(frozen=True)
class Case:
    """A district file (``text`` after ``extends: clever``, or ``raw`` bytes as they are) and the line and
    words of its first problem."""

    text: str = ""
    line: int | None = 2
    says: str = ""
    raw: bytes | None = None

    def write(self, folder: Path) -> Path:
        path = folder / "district.yml"
        path.write_bytes(self.raw if self.raw is not None else ("extends: clever\n" + self.text).encode())
        return path


def template(source: str, key: str = "class_name", section: str = "sections") -> str:
    """A district file whose template at ``section.key`` is ``source`` (on line 3)."""
    quoted = source.replace("\\", "\\\\").replace('"', '\\"')
    return f'{section}:\n  {key}: "{quoted}"\n'


CASES: dict[str, Case] = {}

# -- YAML -------------------------------------------------------------------------------------------------
_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)
for name, case in {
    "tab-indent": Case("students:\n\tid_field: sis_id\n", 3, "YAML syntax error"),
    "unclosed-quote": Case('sections:\n  class_name: "{{ section.name }\n', 4, "YAML syntax error"),
    "unclosed-flow": Case("contacts: {field: type, include: [Parent\n", 3, "YAML syntax error"),
    "bad-indent": Case("students:\n  id_field: sis_id\n id_field: state_id\n", 4, "YAML syntax error"),
    "key-twice": Case("students:\n  id_field: sis_id\nstudents:\n  id_field: state_id\n", 4, "appears twice"),
    "nested-key-twice": Case("students:\n  id_field: sis_id\n  id_field: state_id\n", 4, "appears twice"),
    "undefined-alias": Case("students: *nowhere\n", 2, "YAML syntax error"),
    "billion-laughs": Case(_LAUGHS, None, "expands to more than 10,000 keys and values"),
    "recursive-alias": Case("a: &a [*a]\n", 2, "nested more than 50 levels deep"),
    "recursive-alias-map": Case("a: &a {b: *a}\n", 2, "nested more than 50 levels deep"),
    "deep-flow": Case("x: " + "[" * 20_000 + "]" * 20_000 + "\n", None, "nested too deeply"),
    "deep-block": Case("x:\n" + "".join(" " * i + "- \n" for i in range(200)), None, "nested more than 50"),
    "python-object": Case(
        "x: !!python/object/apply:os.system ['id']\n", 2, "could not determine a constructor"
    ),
    "python-name": Case("x: !!python/name:os.system\n", 2, "could not determine a constructor"),
    "python-module": Case("x: !!python/module:os\n", 2, "could not determine a constructor"),
    "custom-tag": Case("x: !include /etc/passwd\n", 2, "could not determine a constructor"),
    "nul-character": Case("students:\n  id_field: sis\x00_id\n", 3, "control character U+0000"),
    "escape-character": Case("description: \x1b[2J\n", 2, "control character U+001B"),
    "latin1": Case(raw=b"extends: clever\ndescription: caf\xe9\n", line=2, says="not UTF-8"),
    "utf16": Case(raw="extends: clever\n".encode("utf-16"), line=1, says="not UTF-8"),
    "empty": Case(raw=b"", line=1, says="a mapping file is a YAML mapping of keys"),
    "only-comment": Case(raw=b"# nothing here\n", line=1, says="a mapping file is a YAML mapping of keys"),
    "top-level-list": Case(
        raw=b"- extends: clever\n", line=1, says="a mapping file is a YAML mapping of keys"
    ),
    "top-level-scalar": Case(raw=b"clever\n", line=1, says="a mapping file is a YAML mapping of keys"),
    "two-documents": Case("---\nextends: oneroster\n", 2, "but found another document"),
    "huge-file": Case("# " + "a" * 300_000 + "\n", None, "larger than 256 KB"),
    "huge-value": Case("description: " + "a" * 20_000 + "\n", 2, "a value of 20,000 characters"),
    "huge-integer": Case(
        "safety_limits: {removals: {classes: {count: " + "9" * 20_000 + "}}}\n", 2, "characters"
    ),
    "huge-float": Case("safety_limits: {removals: {classes: {percent: 1e99999}}}\n", 2, "is not allowed"),
}.items():
    CASES[f"yaml-{name}"] = case

# -- the schema -------------------------------------------------------------------------------------------
for name, case in {
    "unknown-top-key": Case("studnets: {id_field: sis_id}\n", 2, "unknown key; allowed keys"),
    "unknown-nested-key": Case("students:\n  idfield: sis_id\n", 3, "unknown key; allowed keys"),
    "id-field-value": Case("students:\n  id_field: sis\n", 3, "'sis' is not allowed; allowed values"),
    "id-field-number": Case("students:\n  id_field: 5\n", 3, "is not allowed"),
    "contact-field": Case("contacts:\n  field: mother\n", 3, "'mother' is not allowed"),
    "include-string": Case("contacts:\n  include: Parent\n", 3, "expected type"),
    "rules-object": Case("sections:\n  rules: {name: x}\n", 3, "expected type"),
    "rule-no-name": Case("sections:\n  rules:\n    - action: include\n", 4, "'name' is a required property"),
    "rule-bad-action": Case(
        "sections:\n  rules:\n    - {name: r, action: maybe}\n", 4, "'maybe' is not allowed"
    ),
    "rule-unknown-condition": Case(
        "sections:\n  rules:\n    - {name: r, action: include, when: {colour: red}}\n", 4, "unknown key"
    ),
    "rule-grade-numbers": Case(
        "sections:\n  rules:\n    - {name: r, action: include, when: {grade: [1, 2]}}\n", 4, "is not allowed"
    ),
    "default-action": Case("sections:\n  default: perhaps\n", 3, "'perhaps' is not allowed"),
    "full-data-string": Case("options:\n  full_data: 'yes'\n", 3, "expected type: boolean"),
    "archive-without-full-data": Case(
        "options:\n  archive: true\n", 3, "Archive is only valid together with Full Data"
    ),
    "limit-negative": Case(
        "safety_limits:\n  removals:\n    classes: {count: -5}\n", 4, "less than the minimum"
    ),
    "limit-percent-200": Case(
        "safety_limits:\n  removals:\n    classes: {percent: 200}\n", 4, "greater than the maximum"
    ),
    "limit-unknown-entity": Case("safety_limits:\n  removals:\n    teachers: {count: 5}\n", 4, "unknown key"),
    "notify-to-number": Case("invitations:\n  notify_to: 5\n", 3, "expected type"),
    "region-long": Case("invitations:\n  default_region: USA\n", 3, "'USA'"),
    "source-unknown": Case(raw=b"source: powerschool\n", line=1, says="'powerschool' is not allowed"),
    "extends-unknown": Case(raw=b"extends: powerschool\n", line=1, says="not a packaged default"),
    "extends-missing": Case(raw=b"extends: ./nowhere.yml\n", line=1, says="does not exist"),
    "extends-self": Case(raw=b"extends: ./district.yml\n", line=1, says="extends cycle"),
    "extends-folder": Case(raw=b"extends: ./\n", line=1, says="does not exist"),
    "extends-other-source": Case(raw=b"extends: oneroster\nsource: clever\n", line=2, says="contradicts"),
    "groups-key-twice": Case(
        "communities:\n  groups:\n    - {key: k, name: A, schools: [sch1]}\n"
        "    - {key: k, name: B, schools: [sch2]}\n",
        5,
        "is used twice",
    ),
    "groups-school-twice": Case(
        "communities:\n  groups:\n    - {key: a, name: A, schools: [sch1]}\n"
        "    - {key: b, name: B, schools: [sch1]}\n",
        5,
        "a school joins one community",
    ),
    "groups-no-schools": Case("communities:\n  groups:\n    - {key: a, name: A}\n", 4, "required property"),
    "schools-number": Case("communities:\n  schools: 5\n", 3, "is not allowed"),
    "class-name-list": Case("sections:\n  class_name: [a, b]\n", 3, "expected type"),
    "staff-role-unknown": Case("staff:\n  default_role: Janitor\n", 3, "'Janitor' is not allowed"),
}.items():
    CASES[f"schema-{name}"] = case

# -- templates --------------------------------------------------------------------------------------------
_BOUNDED = "a mapping template is bounded"
for name, (source, says) in {
    "syntax": ("{{ section.name ", "template syntax error"),
    "unknown-variable": ("{{ student.first_name }}", "unknown template variable student"),
    "unknown-field": ("{{ section.room_no }}", "section has no field 'room_no'"),
    "unknown-field-item": ("{{ section['room_no'] }}", "section has no field 'room_no'"),
    "unknown-teacher-field": ("{{ teacher.nickname }}", "teacher has no field 'nickname'"),
    "unknown-term-field": ("{{ term.season }}", "term has no field 'season'"),
    "unknown-course-field": ("{{ course.title }}", "course has no field 'title'"),
    "unknown-filter": ("{{ section.name|center(100) }}", "unknown filter 'center'"),
    "random-filter": ("{{ section.name|random }}", "unknown filter 'random'"),
    "format-filter": ("{{ '%s'|format(section.name) }}", "unknown filter 'format'"),
    "lipsum": ("{{ lipsum(1000) }}", "unknown template variable lipsum"),
    "nested-range-100000": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{{ section.name }}",
        "it passed the number 100000",
    ),
    "nested-loops": (
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}{{ section.name }}",
        "more than 10,000 loop steps",
    ),
    "fifty-million-characters": ("{{ 'x' * 50000000 }}", "it built a value of 50,000,000"),
    "square-string": ("{{ ('x' * 10000) * 10000 }}", "it built a value of 100,000,000"),
    "list-multiplication": ("{{ [section.name] * 1000000 }}", "it built a value of 1,000,000"),
    "power-tower": ("{{ 9 ** 9 ** 9 }}", "to the power"),
    "percent-width": ("{{ '%099999999d' % 1 }}", "it passed the number 99999999"),
    "replace-amplifies": ("{{ 'ab'|replace('', 'x' * 9000) }}", "it built a value of"),
    "str-center": ("{{ section.name.center(100000000) }}", "str.center may not be called"),
    "str-format": ("{{ '{:>99999999}'.format(1) }}", "str.format may not be called"),
    "long-output": ("{% for i in range(9000) %}{{ section.name }}{% endfor %}", "its output passed 1,000"),
    "recursion": ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "it calls itself too deeply"),
    "exponential-macro": (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
        _BOUNDED,
    ),
    "include-file": ("{% include '/etc/passwd' %}", "template failed"),
    "import-module": ("{% import 'os' as os %}{{ section.name }}", "template failed"),
    "extends-file": ("{% extends '/etc/passwd' %}", "template failed"),
    "community-unknown-variable": ("{{ section.name }}", "unknown template variable section"),
}.items():
    key, group = ("name", "communities") if name.startswith("community") else ("class_name", "sections")
    CASES[f"template-{name}"] = Case(template(source, key, group), 3, says)

# -- escapes from the sandbox -----------------------------------------------------------------------------
for name, (source, says) in {
    "class": ("{{ section.__class__ }}", "unsafe attribute '__class__'"),
    "mro": ("{{ ''.__class__.__mro__ }}", "unsafe attribute"),
    "subclasses": ("{{ ().__class__.__base__.__subclasses__() }}", "unsafe attribute"),
    "globals": ("{{ cycler.__init__.__globals__ }}", "unsafe attribute"),
    "builtins": ("{{ joiner.__init__.__globals__.__builtins__ }}", "unsafe attribute"),
    "item-dunder": ("{{ section['__class__'] }}", "unsafe attribute"),
    "computed-dunder": ("{% set n = '__cl' ~ 'ass__' %}{{ section[n] }}", "refused by the sandbox"),
    "attr-filter": ("{{ section.name|attr('__cl' ~ 'ass__') }}", "refused by the sandbox"),
    "namespace-internals": ("{% set ns = namespace() %}{{ ns.__init__ }}", "unsafe attribute"),
    "loop-internals": ("{% for x in [1] %}{{ loop._iterator }}{% endfor %}", "unsafe attribute"),
    "range-internals": ("{{ range.__self__ }}", "unsafe attribute"),
    "format-dunder": ("{{ '{0.__class__}'.format(section.name) }}", "str.format may not be called"),
    "self-reference": ("{{ self._TemplateReference__context }}", "unsafe attribute"),
}.items():
    CASES[f"escape-{name}"] = Case(template(source), 3, says)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_hostile_mapping_file(case: Case, store: Path, tmp_path: Path, capfd: Any) -> None:
    path = case.write(tmp_path)
    place = f"{path}:{case.line}" if case.line else f"{path}"
    before = runner.store_state(store)

    started = time.monotonic()
    validated = runner.bloomz_sync(["mapping", "validate", str(path)], capfd)
    imported = runner.target({"database": str(store), "mapping": str(path)}, MESSAGES, capfd, tmp_path)
    took = time.monotonic() - started

    for run in (validated, imported):
        assert run.escaped is None, run.escaped
        assert run.exit_code == 1, run.stderr[-2000:]
        assert place in run.stderr, run.stderr[-2000:]
        assert case.says in run.stderr, run.stderr[-2000:]
    assert_clean(imported, exit_code=1, names=[place, case.says])
    assert "Traceback" not in validated.output
    assert_store(store, before, applied=False)
    assert took < 30, f"the case took {took:.0f} s: a hostile mapping must fail fast"


def test_a_field_the_source_lacks_is_named_by_validate_and_sets_sections_aside_at_run_time(
    store: Path, tmp_path: Path, capfd: Any
) -> None:
    # `section.extra.room_no` may exist in some source: the file is valid, validate says it was not checked,
    # and a run sets aside (and names) each section that lacks it, applying the rest.
    path = Case(template("{{ section.extra.room_no }}")).write(tmp_path)
    before = runner.store_state(store)

    validated = runner.bloomz_sync(["mapping", "validate", str(path)], capfd)
    imported = runner.target({"database": str(store), "mapping": str(path)}, MESSAGES, capfd, tmp_path)

    assert_clean(
        validated, exit_code=0, names=["section.extra.room_no: whether the source has it is checked"]
    )
    assert_clean(imported, exit_code=0)
    assert_store(store, before, applied=True)
    assert "3 records set aside" in imported.stderr


def test_the_cases_cover_every_kind_of_hostile_mapping() -> None:
    kinds = {name.split("-")[0] for name in CASES}
    assert kinds == {"yaml", "schema", "template", "escape"}
    assert len(CASES) >= 95
