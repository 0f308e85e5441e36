"""What a loaded mapping decides: communities, sections, class names, staff roles, options."""

from __future__ import annotations

import pytest
from target_bloomz.mapping import CommunityTarget, ImportOptions, Limit, MappingError, load_mapping

from tests.support.project import REPO_ROOT

ELEMENTARY = {"id": "5a25ff950a5f621109000005", "name": "Lincoln Elementary", "high_grade": "9"}
MIDDLE = {"id": "5a25ff950a5f621109000006", "name": "Lincoln Middle", "low_grade": "6", "high_grade": "8"}
HIGH = {"id": "5a25ff950a5f621109000004", "name": "Lincoln High", "high_grade": "12"}


DISTRICTS = REPO_ROOT / "districts"


def section(**fields):
    return {
        "id": "sec1",
        "school_id": ELEMENTARY["id"],
        "name": "Math 3 - Smith - 2",
        "grades": ["3"],
        **fields,
    }


@pytest.fixture(scope="module")
def lincoln():
    return load_mapping(DISTRICTS / "lincoln-unified" / "mapping.yml")


@pytest.fixture(scope="module")
def riverside():
    return load_mapping(DISTRICTS / "riverside" / "mapping.yml")


# --- extends and overrides -------------------------------------------------------------------------


def test_district_overrides_what_it_names_and_inherits_the_rest(lincoln):
    clever = load_mapping(None, source="clever")
    assert lincoln.files == (clever.path, lincoln.path)
    assert lincoln.source == "clever"  # from the base
    assert lincoln.student_id_field == "student_number"  # overridden
    assert lincoln.contact_field == "type"  # inherited inside an overridden object
    assert lincoln.contact_include == ("Parent/Guardian", "Family")  # a list replaces the base list
    assert lincoln.staff_default_role == "School Support Staff"
    assert lincoln.options.invite_from == "principal@lincoln.example.net"
    assert lincoln.options.notify_to == ("School Admin", "School Office Staff")
    assert lincoln.options.keep_manual_staff is True


def test_objects_merge_key_by_key_along_a_three_file_chain(write):
    write("base.yml", "source: oneroster\nstudents: {id_field: state_id}\noptions: {scheduled: true}\n")
    write("region/middle.yml", "extends: ../base.yml\noptions: {recreate_archived: true}\n")
    path = write(
        "region/district.yml",
        """
        extends: middle.yml
        safety_limits:
          removals:
            people: {count: 25}
            classes: {percent: null, count: 3}
        """,
    )
    mapping = load_mapping(path)
    assert [p.name for p in mapping.files] == ["base.yml", "middle.yml", "district.yml"]
    assert mapping.source == "oneroster"
    assert mapping.student_id_field == "state_id"
    assert (mapping.options.scheduled, mapping.options.recreate_archived) == (True, True)
    # The packaged default of the source fills what no file says.
    assert (mapping.contact_field, mapping.contact_include) == ("relationship", ("parent", "guardian"))
    assert mapping.limits.removals["people"] == Limit(count=25, percent=10.0)
    assert mapping.limits.removals["classes"] == Limit(count=3, percent=None)
    assert mapping.limits.updates["people"] == Limit(count=None, percent=50.0)


# --- communities ----------------------------------------------------------------------------------


def test_listed_schools_become_one_community_each_and_others_are_not_imported(lincoln):
    assert lincoln.community_for(ELEMENTARY) == CommunityTarget(
        key="clever:5a25ff950a5f621109000005", name="Lincoln Elementary"
    )
    assert lincoln.community_for(HIGH) is None


def test_all_schools_by_default():
    clever = load_mapping(None, source="clever")
    assert clever.community_for(HIGH) == CommunityTarget(key=f"clever:{HIGH['id']}", name="Lincoln High")


def test_several_schools_into_one_named_community(riverside):
    campus = CommunityTarget(key="riverside:k8-campus", name="Riverside K-8 Campus")
    assert riverside.community_for({"id": "rsd-school-101", "name": "Riverside Elementary"}) == campus
    assert riverside.community_for({"id": "rsd-school-102", "name": "Riverside Middle"}) == campus
    assert riverside.community_for({"id": "rsd-school-300", "name": "Riverside High"}) == CommunityTarget(
        key="oneroster:rsd-school-300", name="Riverside High"
    )


def test_school_level_from_override_or_highest_grade(lincoln):
    assert lincoln.school_level(ELEMENTARY) == "elementary"  # communities.levels wins over grade 9
    assert lincoln.school_level(MIDDLE) == "middle"
    assert lincoln.school_level(HIGH) == "high"
    assert lincoln.school_level({"id": "x", "high_grade": "Kindergarten"}) == "elementary"
    assert lincoln.school_level({"id": "x", "high_grade": "05"}) == "elementary"
    assert lincoln.school_level({"id": "x", "high_grade": None}) is None


# --- sections ------------------------------------------------------------------------------------


def test_elementary_imports_homerooms_and_specialists_only(lincoln):
    homeroom = section(subject="homeroom/advisory", section_type="homeroom")
    art = section(subject="Arts and Music", section_type="scheduled")
    math = section(subject="math", section_type="scheduled")
    assert lincoln.section_rule(homeroom, ELEMENTARY) == (True, "elementary homerooms")
    assert lincoln.section_rule(art, ELEMENTARY) == (True, "elementary specialists")
    assert lincoln.section_rule(math, ELEMENTARY) == (False, "elementary subject sections")
    assert lincoln.section_rule({**math, "school_id": MIDDLE["id"]}, MIDDLE) == (
        True,
        "sections.default: include",
    )


def test_name_patterns_and_default_exclude(write):
    path = write(
        "district.yml",
        """
        extends: clever
        sections:
          default: exclude
          rules:
            - name: no study halls
              action: exclude
              when: {name: "study hall*"}
            - name: ninth grade science
              action: include
              when: {grade: ["9"], subject: Science, course_name: ["Bio*", "Chem*"]}
        """,
    )
    mapping = load_mapping(path)
    assert mapping.section_rule(section(name="Study Hall - Ruiz - 4", grades=["9"]), HIGH) == (
        False,
        "no study halls",
    )
    biology = section(
        name="Biology - Ruiz - 1", subject="science", grades=["9", "10"], course_name="Biology I"
    )
    assert mapping.section_rule(biology, HIGH) == (True, "ninth grade science")
    assert mapping.section_rule({**biology, "grades": ["10"]}, HIGH) == (False, "sections.default: exclude")
    assert mapping.section_rule({**biology, "course_name": None}, HIGH) == (
        False,
        "sections.default: exclude",
    )


# --- class names ---------------------------------------------------------------------------------


def test_default_class_name_is_the_section_name():
    clever = load_mapping(None, source="clever")
    name = clever.class_name(section(), course=None, teacher=None, term=None, school=ELEMENTARY)
    assert name == "Math 3 - Smith - 2"


def test_class_name_template_sees_teacher_course_term_and_school(write):
    path = write(
        "district.yml",
        """
        extends: clever
        sections:
          class_name: "{{ course.name }} {{ section.period }} / {{ teacher.last_name }} ({{ term.name }},
            {{ school.name }}){{ section.extra.room and ' room ' ~ section.extra.room }}"
        """,
    )
    mapping = load_mapping(path)
    name = mapping.class_name(
        section(course_name="Math 3", period="2", extra={"room": "12B"}),
        course=None,
        teacher={"id": "t1", "last_name": "Smith"},
        term={"id": "term1", "name": "Fall"},
        school=ELEMENTARY,
    )
    assert name == "Math 3 2 / Smith (Fall, Lincoln Elementary) room 12B"


def test_lincoln_adds_the_teacher_only_when_there_is_one(lincoln):
    kwargs = {"course": None, "term": None, "school": ELEMENTARY}
    assert lincoln.class_name(section(), teacher={"id": "t1", "last_name": "Smith"}, **kwargs) == (
        "Math 3 - Smith - 2 (Smith)"
    )
    assert lincoln.class_name(section(), teacher=None, **kwargs) == "Math 3 - Smith - 2"


def test_absent_fields_render_empty_not_none():
    clever = load_mapping(None, source="clever")
    assert clever.class_name({"id": "sec1"}, course=None, teacher=None, term=None, school=ELEMENTARY) == ""


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ teacher.last_name }}", "template uses an undefined value: 'None' has no attribute 'last_name'"),
        (
            "{{ section.extra.room }}",
            "template uses an undefined value: 'dict object' has no attribute 'room'",
        ),
        (
            "{% set n = '__cl' ~ 'ass__' %}{{ section[n] }}",
            "template refused by the sandbox: access to attribute '__class__' of 'dict' object is unsafe.",
        ),
        (
            "{{ section.name|attr('__cl' ~ 'ass__') }}",
            "template refused by the sandbox: access to attribute '__class__' of 'str' object is unsafe.",
        ),
    ],
    ids=["no-teacher", "unknown-field", "computed-dunder", "attr-filter"],
)
def test_render_errors_name_the_template_key_and_file(write, template, message):
    path = write("district.yml", f"extends: clever\nsections:\n  class_name: {template!r}\n")
    mapping = load_mapping(path)
    with pytest.raises(MappingError) as caught:
        mapping.class_name(section(), course=None, teacher=None, term=None, school=ELEMENTARY)
    assert str(caught.value) == f"{path}:3: sections.class_name: {message}"


def test_a_field_the_contract_does_not_have_is_refused_when_the_file_loads(write):
    # It could never render: every section would be set aside at run time (issue 13's `section.room_no`).
    path = write("district.yml", "extends: clever\nsections:\n  class_name: '{{ section.room_no }}'\n")
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert str(caught.value).startswith(
        f"{path}:3: sections.class_name: section.room_no: section has no field 'room_no'; its fields: id, "
    )
    assert str(caught.value).endswith("is under extra: {{ section.extra.room_no }}")


# --- staff ---------------------------------------------------------------------------------------


def test_every_staff_member_is_school_support_staff_by_default(lincoln):
    for roles in (["teacher"], ["staff"], ["district_admin"], ["school_admin", "teacher"]):
        assert lincoln.staff_role({"id": "u1", "roles": roles}) == "School Support Staff"
    assert lincoln.staff_role_rule({"id": "u1", "roles": []}) == (
        "School Support Staff",
        "staff.default_role",
    )


def test_opt_in_staff_rules(riverside, write):
    assert riverside.staff_role_rule({"id": "u1", "roles": ["teacher", "district_admin"]}) == (
        "School Admin",
        "district administrators",
    )
    assert riverside.staff_role({"id": "u2", "roles": ["teacher"]}) == "School Support Staff"
    path = write(
        "district.yml",
        """
        extends: clever
        staff:
          rules:
            - {name: front office, role: School Office Staff, when: {roles: [staff], title: ["*secretary*"]}}
        """,
    )
    mapping = load_mapping(path)
    assert (
        mapping.staff_role({"id": "u3", "roles": ["staff"], "title": "School Secretary"})
        == "School Office Staff"
    )
    assert mapping.staff_role({"id": "u4", "roles": ["staff"], "title": "Nurse"}) == "School Support Staff"
    assert (
        mapping.staff_role({"id": "u5", "roles": ["teacher"], "title": "Secretary"}) == "School Support Staff"
    )


# --- options -------------------------------------------------------------------------------------


def test_run_overrides_change_only_what_they_name(lincoln):
    run = lincoln.with_options(full_data=True, archive=True, invite_parents=None, notify_to="School Admin")
    assert run.options == ImportOptions(
        full_data=True,
        archive=True,
        invite_from="principal@lincoln.example.net",
        notify_to=("School Admin",),
    )
    assert lincoln.options.full_data is False  # the loaded mapping is unchanged
    assert run.student_id_field == lincoln.student_id_field
    assert run.class_name(section(), course=None, teacher=None, term=None, school=ELEMENTARY) == (
        "Math 3 - Smith - 2"
    )


def test_run_overrides_accept_setting_strings(lincoln):
    run = lincoln.with_options(
        scheduled="true",
        invite_teachers="1",
        notify_to=["School Admin", "School Office Staff"],
        default_region="ca",
    )
    assert (run.options.scheduled, run.options.invite_teachers) == (True, True)
    assert run.options.notify_to == ("School Admin", "School Office Staff")
    assert run.options.default_region == "CA"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"archive": True}, "archive: Archive is only valid together with Full Data"),
        ({"full_dta": True}, "unknown import option 'full_dta'; allowed options: full_data, archive, "),
        (
            {"scheduled": "nightly"},
            "import option scheduled: 'nightly' is not allowed; expected type: boolean",
        ),
        ({"default_region": "USA"}, "import option default_region: 'USA' is not a two-letter country code"),
    ],
)
def test_bad_run_overrides_are_refused(lincoln, overrides, message):
    with pytest.raises(MappingError) as caught:
        lincoln.with_options(**overrides)
    assert str(caught.value).startswith(message)
