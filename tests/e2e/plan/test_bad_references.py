"""Records whose references or templates fail: each is reported by id, and the rest of the run lands."""

from __future__ import annotations

from tests.support.district import district, query, run_target, singer_lines


def _issues(database, severity: str) -> list[tuple[str, str, str]]:
    return query(
        database,
        "SELECT stream, record_key, message FROM run_issues WHERE severity = ? ORDER BY 1, 2, 3",
        [severity],
    )


def test_a_class_name_template_error_leaves_out_that_section_only(database, tmp_path, mapping_file):
    records = district()
    records["sections"][2]["primary_teacher_id"] = None  # Math 7 has no teacher
    mapping = mapping_file("""
        sections:
          class_name: "{{ section.name }} ({{ teacher.last_name }})"
    """)

    result = run_target({"database": str(database), "mapping": str(mapping)}, singer_lines(records), tmp_path)

    assert result.returncode == 0, result.stderr
    assert query(database, "SELECT id, status FROM runs") == [(1, "applied")]
    assert query(database, "SELECT section_id, name FROM classes ORDER BY 1") == [
        ("sec1", "Homeroom - Smith (Smith)"),
    ]
    [(action, rule, reason)] = query(
        database, "SELECT action, rule, reason FROM plan_rows WHERE entity = 'class' AND source_id = 'sec3'"
    )
    assert (action, rule) == ("skip", "sections.class_name")
    assert f"{mapping}:3: sections.class_name: template uses an undefined value" in reason
    [(stream, key, message)] = _issues(database, "error")
    assert (stream, key) == ("sections", "sec3")
    assert message == f"section not imported: {reason}"


def test_unknown_references_and_missing_ids_are_reported_by_id(database, tmp_path):
    records = district()
    records["sections"] += [
        {"id": "sec8", "school_id": "sch404", "name": "Art"},
        {"id": "sec9", "school_id": "sch1", "name": "Music", "primary_teacher_id": "tea404"},
    ]
    records["students"][0].pop("sis_id")  # Dee: no value in the chosen id field (sis_id)
    records["enrollments"].append({"section_id": "sec1", "user_id": "stu404", "role": "student"})

    result = run_target({"database": str(database)}, singer_lines(records), tmp_path)

    assert result.returncode == 0, result.stderr
    assert _issues(database, "error") == [
        ("enrollments", "sec1/stu404", "user_id: unknown student or staff member stu404"),
        ("sections", "sec8", "school_id: unknown school sch404"),
    ]
    warnings = _issues(database, "warning")
    assert (
        "sections",
        "sec9",
        "primary_teacher_id: staff member tea404 is unknown or not in a selected school: "
        "the class has no teacher from the section",
    ) in warnings
    assert (
        "students",
        "stu1",
        "students.id_field: the student has no sis_id: imported without a student id",
    ) in warnings
    # The rest landed: Music is a class (with no teacher), Dee a student with no student id.
    assert query(database, "SELECT section_id FROM classes ORDER BY 1") == [("sec1",), ("sec3",), ("sec9",)]
    assert query(
        database,
        "SELECT count(*) FROM class_members m JOIN classes c ON c.id = m.class_id "
        "WHERE c.section_id = 'sec9'",
    ) == [(0,)]
    assert query(database, "SELECT first_name, student_id FROM people WHERE kind = 'student' ORDER BY 1") == [
        ("Dee", None),
        ("Eve", "S-2"),
        ("Fay", "S-3"),
    ]


def test_a_section_with_no_school_is_set_aside(database, tmp_path):
    records = district()
    records["sections"].append({"id": "sec8", "name": "Art"})

    result = run_target({"database": str(database)}, singer_lines(records), tmp_path)

    assert result.returncode == 0, result.stderr
    assert _issues(database, "error") == [("sections", "sec8", "missing school_id")]
