"""The standard roster streams: every schema is valid, documented, and tells good records from bad."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from roster_streams import contract

VALID = {
    "schools": {
        "id": "sch1",
        "name": "Lincoln Elementary",
        "school_number": "101",
        "low_grade": "Kindergarten",
        "high_grade": "5",
        "updated_at": "2026-11-01T00:00:00Z",
        "extra": {"principal": "Ms. Lee"},
    },
    "terms": {
        "id": "t1",
        "name": "Fall 2026",
        "start_date": "2026-08-20",
        "end_date": "2026-12-20",
        "school_id": "sch1",
        "extra": {},
    },
    "sections": {
        "id": "sec1",
        "school_id": "sch1",
        "name": "Math 3 - Smith - 2",
        "grades": ["3"],
        "term_ids": ["t1"],
        "primary_teacher_id": "tch1",
        "section_type": "scheduled",
        "extra": {},
    },
    "students": {
        "id": "stu1",
        "school_ids": ["sch1"],
        "primary_school_id": "sch1",
        "sis_id": "S-1",
        "first_name": "Ana",
        "last_name": "Diaz",
        "grade": "3",
        "extra": {},
    },
    "staff": {
        "id": "tch1",
        "school_ids": ["sch1"],
        "roles": ["teacher", "school_admin"],
        "first_name": "Jo",
        "last_name": "Smith",
        "email": "jo@example.net",
        "extra": {},
    },
    "contacts": {
        "id": "con1",
        "sis_id": None,
        "first_name": None,
        "last_name": "Maria Diaz",
        "phone": "555-0100",
        "phone_type": "Cell",
        "extra": {},
    },
    "student_contacts": {
        "student_id": "stu1",
        "contact_id": "con1",
        "relationship": "Parent",
        "type": "Parent/Guardian",
        "extra": {},
    },
    "enrollments": {"section_id": "sec1", "user_id": "stu1", "role": "student", "primary": None, "extra": {}},
}

# One way each stream's record can break the contract.
INVALID = {
    "schools": {"name": "no id"},
    "terms": {"id": "t1", "start_date": 20260820},
    "sections": {"id": "sec1", "grades": "3"},
    "students": {"id": ""},
    "staff": {"id": "tch1", "roles": ["principal"]},
    "contacts": {"id": "con1", "nickname": "not in the contract"},
    "student_contacts": {"student_id": "stu1"},
    "enrollments": {"section_id": "sec1", "user_id": "stu1", "role": "parent"},
}


def test_the_contract_names_the_eight_standard_streams() -> None:
    assert set(contract.STREAMS) == set(VALID)


@pytest.mark.parametrize("stream", contract.STREAMS)
def test_schema_is_a_valid_json_schema(stream: str) -> None:
    Draft202012Validator.check_schema(contract.load_schema(stream))


@pytest.mark.parametrize("stream", contract.STREAMS)
def test_every_field_is_documented(stream: str) -> None:
    schema = contract.load_schema(stream)
    undocumented = [name for name, spec in schema["properties"].items() if not spec.get("description")]
    assert undocumented == []


@pytest.mark.parametrize("stream", contract.STREAMS)
def test_every_stream_carries_updated_at_extra_and_deletion_marker(stream: str) -> None:
    assert {"updated_at", "extra", "_sdc_deleted_at"} <= set(contract.load_schema(stream)["properties"])


@pytest.mark.parametrize("stream", contract.STREAMS)
def test_keys_are_required_non_empty_strings(stream: str) -> None:
    schema = contract.load_schema(stream)
    for key in contract.key_properties(stream):
        assert key in schema["required"]
        assert schema["properties"][key] == {**schema["properties"][key], "type": "string", "minLength": 1}


def test_keys_of_the_link_streams_are_both_ends() -> None:
    assert contract.key_properties("student_contacts") == ["student_id", "contact_id"]
    assert contract.key_properties("enrollments") == ["section_id", "user_id"]
    assert contract.key_properties("students") == ["id"]


@pytest.mark.parametrize("stream", contract.STREAMS)
def test_a_valid_record_passes(stream: str) -> None:
    errors = list(contract.validator(stream).iter_errors(VALID[stream]))
    assert errors == []


@pytest.mark.parametrize("stream", contract.STREAMS)
def test_an_invalid_record_fails(stream: str) -> None:
    assert not contract.validator(stream).is_valid(INVALID[stream])


def test_callers_get_their_own_copy_of_a_schema() -> None:
    contract.load_schema("students")["properties"].clear()
    assert "first_name" in contract.load_schema("students")["properties"]


def test_an_unknown_stream_is_named_in_the_error() -> None:
    with pytest.raises(KeyError, match="unknown roster stream 'parents'"):
        contract.load_schema("parents")
