"""Every kind of mistake in a mapping file gives `file:line: key: message` with what is allowed."""

from __future__ import annotations

import pytest
from target_bloomz.mapping import MappingError, load_mapping

ID_FIELDS = "sis_id, student_number, state_id"

# (file text, line, key, message) — the file is district.yml, extending the packaged Clever default.
SCHEMA_MISTAKES = [
    pytest.param(
        """
        extends: clever
        students:
          id_field: sis
        """,
        3,
        "students.id_field",
        "'sis' is not allowed; allowed values: sis_id, student_number, state_id",
        id="enum",
    ),
    pytest.param(
        """
        extends: oneroster
        communities:
          departments: schools
        """,
        3,
        "communities.departments",
        "'schools' is not allowed; allowed values: school, community, none",
        id="department-rule",
    ),
    pytest.param(
        """
        extends: clever
        contacts:
          field: type
          includes: [Parent/Guardian]
        """,
        4,
        "contacts.includes",
        "unknown key; allowed keys: field, include",
        id="unknown-key",
    ),
    pytest.param(
        """
        extends: clever
        colour: blue
        """,
        2,
        "colour",
        "unknown key; allowed keys: extends, source, description, communities, students, contacts, sections, "
        "staff, options, invitations, safety_limits",
        id="unknown-top-level-key",
    ),
    pytest.param(
        """
        extends: clever
        options:
          full_data: yes please
        """,
        3,
        "options.full_data",
        "'yes please' is not allowed; expected type: boolean",
        id="type",
    ),
    pytest.param(
        """
        extends: clever
        sections:
          rules:
            - name: homerooms
              when: {section_type: homeroom}
        """,
        4,
        "sections.rules[0]",
        "'action' is a required property; required keys: name, action",
        id="required",
    ),
    pytest.param(
        """
        extends: clever
        sections:
          rules:
            - name: elementary
              action: exclude
              when:
                school_level: primary
        """,
        7,
        "sections.rules[0].when.school_level",
        "'primary' is not allowed; allowed: one of elementary, middle, high or a list of values from "
        "elementary, middle, high",
        id="one-or-list",
    ),
    pytest.param(
        """
        extends: clever
        communities:
          schools: [101, 102]
        """,
        3,
        "communities.schools",
        "[101, 102] is not allowed; allowed: 'all' or a list of strings",
        id="all-or-list",
    ),
    pytest.param(
        """
        extends: clever
        staff:
          default_role: Teacher
        """,
        3,
        "staff.default_role",
        "'Teacher' is not allowed; allowed values: School Admin, School Office Staff, School Support Staff",
        id="role",
    ),
    pytest.param(
        """
        extends: clever
        safety_limits:
          removals:
            people: {percent: 150}
        """,
        4,
        "safety_limits.removals.people.percent",
        "150 is greater than the maximum of 100",
        id="maximum",
    ),
]


@pytest.mark.parametrize(("text", "line", "key", "message"), SCHEMA_MISTAKES)
def test_schema_mistakes_name_file_line_key_and_what_is_allowed(write, text, line, key, message):
    path = write("district.yml", text)
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert str(caught.value) == f"{path}:{line}: {key}: {message}"


def test_all_schema_mistakes_of_a_file_are_reported_together_in_line_order(write):
    path = write(
        "district.yml",
        """
        extends: clever
        students:
          id_field: sis
        contacts:
          feild: type
        """,
    )
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert str(caught.value).splitlines() == [
        f"{path}:3: students.id_field: 'sis' is not allowed; allowed values: {ID_FIELDS}",
        f"{path}:5: contacts.feild: unknown key; allowed keys: field, include",
    ]


def test_every_file_of_the_chain_is_validated_before_extends_is_followed(write):
    # The base is broken AND its own base is missing: the base's schema error comes first.
    write("base.yml", "extends: nowhere.yml\nstudents: {id_field: ssn}\n")
    path = write("district.yml", "extends: base.yml\n")
    with pytest.raises(MappingError, match=r"base\.yml:2: students\.id_field: 'ssn' is not allowed"):
        load_mapping(path)


def test_yaml_syntax_error_names_file_and_line(write):
    path = write("district.yml", "extends: clever\nstudents:\n  id_field: [sis_id\ncontacts: {}\n")
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert str(caught.value).startswith(f"{path}:4: YAML syntax error: ")


def test_a_key_written_twice_is_refused(write):
    path = write(
        "district.yml", "extends: clever\nstudents:\n  id_field: sis_id\nstudents:\n  id_field: state_id\n"
    )
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert str(caught.value) == f"{path}:4: students: the key appears twice (first on line 2); write it once"


def test_a_file_that_is_not_a_mapping_of_keys(write):
    path = write("district.yml", "- clever\n")
    with pytest.raises(
        MappingError, match=r"district\.yml:1: \(top level\): a mapping file is a YAML mapping"
    ):
        load_mapping(path)


def test_missing_file(tmp_path):
    with pytest.raises(MappingError, match=r"nope\.yml: cannot read the mapping file: No such file"):
        load_mapping(tmp_path / "nope.yml")


def test_missing_base_file(write):
    path = write("district.yml", "# Lincoln\nextends: ../clever-old.yml\n")
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    base = path.parent.parent / "clever-old.yml"
    assert str(caught.value) == f"{path}:2: extends: the base file {base} does not exist"


def test_unknown_packaged_default(write):
    path = write("district.yml", "extends: skyward\n")
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert str(caught.value) == (
        f"{path}:1: extends: 'skyward' is not a packaged default; allowed: clever, oneroster, or a .yml path"
    )


def test_extends_cycle(write):
    a = write("a.yml", "extends: b.yml\n")
    b = write("b.yml", "extends: a.yml\n")
    with pytest.raises(MappingError) as caught:
        load_mapping(a)
    assert str(caught.value) == f"{b}:1: extends: extends cycle: {a} → {b} → {a}"


def test_a_file_without_extends_must_name_its_source(write):
    path = write("district.yml", "students: {id_field: sis_id}\n")
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert str(caught.value) == (
        f"{path}:1: (top level): missing key 'source': a file without extends names it; "
        "allowed: clever, oneroster"
    )


def test_a_district_file_cannot_change_the_source_of_its_base(write):
    path = write("district.yml", "extends: clever\nsource: oneroster\n")
    with pytest.raises(MappingError, match=r"district\.yml:2: source: 'oneroster' contradicts .*clever\.yml"):
        load_mapping(path)


def test_the_run_source_must_match_the_mapping(write):
    path = write("district.yml", "extends: clever\n")
    with pytest.raises(
        MappingError, match="the mapping is for source 'clever' but this run reads from 'oneroster'"
    ):
        load_mapping(path, source="oneroster")


def test_archive_without_full_data_is_refused(write):
    path = write("district.yml", "extends: clever\noptions:\n  archive: true\n")
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert str(caught.value) == (
        f"{path}:3: options.archive: Archive is only valid together with Full Data "
        "(set options.full_data: true, or archive: false)"
    )


def test_archive_with_full_data_is_accepted(write):
    path = write("district.yml", "extends: clever\noptions:\n  archive: true\n  full_data: true\n")
    options = load_mapping(path).options
    assert (options.archive, options.full_data) == (True, True)


def test_a_school_can_join_only_one_community(write):
    path = write(
        "district.yml",
        """
        extends: clever
        communities:
          groups:
            - {key: k8, name: K-8, schools: [s1, s2]}
            - {key: campus, name: Campus, schools: [s2]}
        """,
    )
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert str(caught.value) == (
        f"{path}:5: communities.groups[1].schools: school 's2' is already in community 'k8'; "
        "a school joins one community"
    )


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ section.name ", "template syntax error: unexpected end of template"),
        (
            "{{ section.name }} {{ room }}",
            "unknown template variable room; available: section, course, teacher, term, school",
        ),
        (
            "{{ section.__class__ }}",
            "unsafe attribute '__class__': a template may not read names starting with _",
        ),
        (
            "{{ section['__globals__'] }}",
            "unsafe attribute '__globals__': a template may not read names starting with _",
        ),
    ],
    ids=["syntax", "unknown-variable", "dunder-attribute", "dunder-item"],
)
def test_template_mistakes_are_caught_when_the_mapping_loads(write, template, message):
    path = write("district.yml", f"extends: clever\nsections:\n  class_name: {template!r}\n")
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert str(caught.value).startswith(f"{path}:3: sections.class_name: {message}")


def test_community_name_template_is_checked_too(write):
    path = write("district.yml", "extends: clever\ncommunities:\n  name: '{{ section.name }}'\n")
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert str(caught.value) == (
        f"{path}:3: communities.name: unknown template variable section; available: school"
    )
