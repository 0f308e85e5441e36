"""Reading OneRoster CSV bundles: manifest, multi-value cells, userIds, 1.2 roles.csv, and the shapes real
exports have (BOM, CRLF, quoted line breaks, `...,,` headers, vendor columns, any case, day-first dates),
read leniently where the standard allows, strictly where a value would be wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from tap_oneroster.columns import MissingColumns
from tap_oneroster.csv_source import BundleError, CsvSource

from tests.support.oneroster_tap import pull_bundle, write_bundle, zip_folder

HEADER_11 = (
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,"
    "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
)
USERS_11 = (
    HEADER_11
    + 'stu-1,,,true,"sch-1,sch-2",student,ava,"{StateID:ST-99},{LDAP:ava}",Ava,Stone,,10001,,,,par-1,05,'
    + "s3cret\n"
    + "par-1,,,true,sch-1,parent,pat,,Pat,Stone,,,pat@example.net,555-0100,,stu-1,,\n"
    + "broken,row\n"
    + "t-1,,,true,sch-1,teacher,tom,,Tom,Hill,,T100,tom@example.net,,,,,\n"
)


@pytest.fixture
def bundle_11(tmp_path: Path) -> Path:
    manifest = {
        "manifest.version": "1.0",
        "oneroster.version": "1.1",
        "file.users": "bulk",
        "file.orgs": "absent",
    }
    return write_bundle(tmp_path / "bundle", manifest, {"users.csv": USERS_11})


def test_users_rows_become_records_with_lists_ids_and_no_password(bundle_11: Path, tmp_path: Path) -> None:
    pulled = pull_bundle(tmp_path, bundle_11)
    (student,) = pulled("students")

    assert student["school_ids"] == ["sch-1", "sch-2"]
    assert (student["state_id"], student["sis_id"], student["grade"]) == ("ST-99", "10001", "05")
    assert student["extra"]["agents"] == ["par-1"]
    assert student["extra"]["userIds"] == [
        {"type": "StateID", "identifier": "ST-99"},
        {"type": "LDAP", "identifier": "ava"},
    ]
    assert student["email"] is None  # an empty cell is no value
    assert "password" not in student["extra"]
    assert "s3cret" not in str(pulled("students"))
    assert [s["id"] for s in pulled("staff")] == ["t-1"]
    assert [(link["student_id"], link["contact_id"]) for link in pulled("student_contacts")] == [
        ("stu-1", "par-1")
    ]


def test_a_malformed_row_is_reported_with_file_line_and_reason_and_the_rest_is_read(
    bundle_11: Path, tmp_path: Path
) -> None:
    pulled = pull_bundle(tmp_path, bundle_11)

    assert [s["id"] for s in pulled("students") + pulled("staff") + pulled("contacts")] == [
        "stu-1",
        "t-1",
        "par-1",
    ]
    assert [str(p) for p in pulled.problems] == [
        "users.csv line 4 (sourcedId broken): 2 fields where the header has 18"
    ]
    assert pulled.problems[0].severity == "error"  # the row is left out, not read without a value


def test_manifest_absent_and_unlisted_files_yield_nothing_and_are_not_complete(
    bundle_11: Path, tmp_path: Path
) -> None:
    pulled = pull_bundle(tmp_path, bundle_11)

    assert pulled("schools") == []
    assert pulled("sections") == []
    assert pulled.tables.is_complete("users")
    assert not pulled.tables.is_complete("orgs")
    assert not pulled.tables.is_complete("classes")


def test_a_zip_with_the_files_in_a_subfolder_reads_like_the_folder(bundle_11: Path, tmp_path: Path) -> None:
    archive = zip_folder(bundle_11, tmp_path / "bundle.zip", prefix="export-2026/")

    assert pull_bundle(tmp_path, archive)("students") == pull_bundle(tmp_path, bundle_11)("students")


def test_a_delta_file_keeps_status_and_filters_by_since(tmp_path: Path) -> None:
    users = (
        HEADER_11
        + "stu-1,tobedeleted,2026-10-02T00:00:00Z,true,sch-1,student,,,Ava,Stone,,,,,,,,\n"
        + "stu-2,active,2026-09-01T00:00:00Z,true,sch-1,student,,,Ben,Stone,,,,,,,,\n"
    )
    bundle = write_bundle(
        tmp_path / "delta", {"oneroster.version": "1.1", "file.users": "delta"}, {"users.csv": users}
    )
    pulled = pull_bundle(tmp_path, bundle)

    (record,) = pulled("students", since="2026-10-01T00:00:00Z")
    assert (record["id"], record["_sdc_deleted_at"]) == ("stu-1", "2026-10-02T00:00:00Z")
    assert not pulled.tables.is_complete("users")


def test_12_roles_csv_gives_the_users_roles(tmp_path: Path) -> None:
    users = (
        "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,"
        "identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,resourceSourcedIds,"
        "preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns\n"
        "t-1,,,true,tom,,Tom,Hill,,T100,,,,,,,,,Tommy,,,sch-1,\n"
    )
    roles = (
        "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,"
        "userProfileSourcedId\n"
        "r1,,,t-1,primary,teacher,,,sch-1,\n"
        "r2,,,t-1,secondary,principal,,,sch-2,\n"
    )
    manifest = {"oneroster.version": "1.2", "file.users": "bulk", "file.roles": "bulk"}
    bundle = write_bundle(tmp_path / "b12", manifest, {"users.csv": users, "roles.csv": roles})
    (staff,) = pull_bundle(tmp_path, bundle)("staff")

    assert staff["school_ids"] == ["sch-1", "sch-2"]
    assert staff["roles"] == ["teacher", "school_admin"]
    assert staff["extra"]["roles"] == [
        {"roleType": "primary", "role": "teacher", "org": "sch-1"},
        {"roleType": "secondary", "role": "principal", "org": "sch-2"},
    ]


def test_a_missing_or_broken_bundle_is_a_clear_error(tmp_path: Path) -> None:
    not_zip = tmp_path / "bundle.zip"
    not_zip.write_text("not a zip")
    no_manifest = tmp_path / "empty"
    no_manifest.mkdir()

    with pytest.raises(BundleError, match="does not exist"):
        CsvSource(tmp_path / "nowhere", tmp_path)
    with pytest.raises(BundleError, match="neither a folder nor a zip"):
        CsvSource(not_zip, tmp_path)
    with pytest.raises(BundleError, match=r"has no manifest\.csv"):
        CsvSource(no_manifest, tmp_path)


def test_a_file_the_manifest_lists_but_the_bundle_lacks_is_an_error(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "b", {"oneroster.version": "1.1", "file.enrollments": "bulk"}, {})

    with pytest.raises(BundleError, match=r"lists enrollments\.csv, but the bundle has no such file"):
        pull_bundle(tmp_path, bundle)("enrollments")


def test_an_unclosed_quote_loses_only_its_own_line(tmp_path: Path) -> None:
    users = (
        HEADER_11
        + "stu-1,,,true,sch-1,student,ava,,Ava,Stone,,10001,,,,,05,\n"
        + 'stu-2,,,true,sch-1,student,ben,,"Ben,Stone,,10002,,,,,05,\n'  # the quote never closes
        + "stu-3,,,true,sch-1,student,cy,,Cy,Stone,,10003,,,,,05,\n"
        + "stu-4,,,true,sch-1,student,di,,Di,Stone,,10004,,,,,05,\n"
    )
    bundle = write_bundle(tmp_path / "b", {"file.users": "bulk"}, {"users.csv": users})
    pulled = pull_bundle(tmp_path, bundle)

    assert [s["id"] for s in pulled("students")] == ["stu-1", "stu-3", "stu-4"]
    assert [str(p) for p in pulled.problems] == [
        "users.csv line 3 (sourcedId stu-2): a quoted field is never closed"
    ]


def test_a_quote_that_closes_lines_later_loses_only_the_lines_it_swallowed_badly(tmp_path: Path) -> None:
    users = (
        HEADER_11
        + 'stu-1,,,true,sch-1,student,ava,,"Ava,Stone,,10001,,,,,05,\n'  # opens a quote ...
        + "stu-2,,,true,sch-1,student,ben,,Ben,Stone,,10002,,,,,05,\n"
        + 'stu-3,,,true,sch-1,student,cy,,Cy",Stone,,10003,,,,,05,\n'  # ... that closes here
        + "stu-4,,,true,sch-1,student,di,,Di,Stone,,10004,,,,,05,\n"
    )
    bundle = write_bundle(tmp_path / "b", {"file.users": "bulk"}, {"users.csv": users})
    pulled = pull_bundle(tmp_path, bundle)

    # stu-1's line is lost; stu-3 keeps the stray quote its name ends with, as a quote inside a value reads
    assert [s["id"] for s in pulled("students")] == ["stu-2", "stu-3", "stu-4"]
    assert [str(p) for p in pulled.problems] == [
        "users.csv line 2 (sourcedId stu-1): a quoted field is never closed"
    ]


def test_line_ends_that_change_half_way_lose_only_the_line_that_cannot_be_read(tmp_path: Path) -> None:
    # LF lines, then a CRLF one (an edited file): DuckDB's reader stops on the whole file, Python's reads it
    users = (
        HEADER_11
        + "stu-1,,,true,sch-1,student,ava,,Ava,Stone,,10001,,,,,05,\n"
        + "stu-2,,,true,sch-1,student,ben,,Ben,Stone,,10002,,,,,05,\n"
        + ",x\r\n"
    )
    bundle = write_bundle(tmp_path / "b", {"file.users": "bulk"}, {"users.csv": users})
    pulled = pull_bundle(tmp_path, bundle)

    assert [s["id"] for s in pulled("students")] == ["stu-1", "stu-2"]
    assert [str(p) for p in pulled.problems] == ["users.csv line 4: 2 fields where the header has 18"]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (
            HEADER_11.encode() + "stu-1,,,true,sch-1,student,ava,,Zoë\n".encode("latin-1"),
            "users.csv is not UTF-8",
        ),
        (b"", "users.csv is empty: it has no header row"),
        (HEADER_11.replace(",", ";").encode(), "users.csv line 1: the header has no sourcedId column"),
    ],
    ids=["latin-1", "empty", "semicolons"],
)
def test_a_file_that_cannot_be_read_at_all_stops_the_run_naming_it(
    data: bytes, says: str, tmp_path: Path
) -> None:
    bundle = write_bundle(tmp_path / "b", {"file.users": "bulk"}, {})
    (bundle / "users.csv").write_bytes(data)

    with pytest.raises(BundleError, match=says):
        pull_bundle(tmp_path, bundle)("students")


def test_a_manifest_without_its_header_is_refused(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "b", {"file.users": "bulk"}, {"users.csv": HEADER_11})
    (bundle / "manifest.csv").write_text("file.users,bulk\n")

    with pytest.raises(BundleError, match=r"manifest\.csv line 1: the header is not propertyName,value"):
        CsvSource(bundle, tmp_path)


def test_an_over_long_row_loses_only_its_own_line(tmp_path: Path) -> None:
    huge = "x" * 2_200_000  # over DuckDB's 2 MB line limit
    users = (
        HEADER_11
        + "stu-1,,,true,sch-1,student,ava,,Ava,Stone,,10001,,,,,05,\n"
        + f'stu-2,,,true,sch-1,student,ben,,"{huge}",Stone,,10002,,,,,05,\n'
        + "stu-3,,,true,sch-1,student,cy,,Cy,Stone,,10003,,,,,05,\n"
    )
    bundle = write_bundle(tmp_path / "b", {"file.users": "bulk"}, {"users.csv": users})
    pulled = pull_bundle(tmp_path, bundle)

    assert [s["id"] for s in pulled("students")] == ["stu-1", "stu-3"]
    (problem,) = pulled.problems
    assert problem.where == "users.csv line 3"
    assert huge not in str(problem)


def test_since_compares_points_in_time_not_text(tmp_path: Path) -> None:
    users = (
        HEADER_11
        # 00:30 at UTC-5 is 05:30 UTC: after the bookmark, though its text sorts before it
        + "stu-1,active,2026-10-01T00:30:00-05:00,true,sch-1,student,,,Ava,Stone,,,,,,,,\n"
        # the bookmark's own instant written with milliseconds: not after it, though its text sorts after
        + "stu-2,active,2026-10-01T05:00:00.000Z,true,sch-1,student,,,Ben,Stone,,,,,,,,\n"
        + "stu-3,active,2026-09-30T23:00:00Z,true,sch-1,student,,,Cy,Stone,,,,,,,,\n"
    )
    bundle = write_bundle(tmp_path / "d", {"file.users": "delta"}, {"users.csv": users})

    records = pull_bundle(tmp_path, bundle)("students", since="2026-10-01T05:00:00Z")
    assert [s["id"] for s in records] == ["stu-1"]


# -- what real exports do


def test_bom_crlf_quoted_line_breaks_and_an_unnamed_column_tail_are_read(tmp_path: Path) -> None:
    orgs = (
        "\ufeffsourcedId,status,dateLastModified,name,type,identifier,parentSourcedId,,\r\n"
        'sch-1,,,"North\r\nHigh",School,0042,dist-1\r\n'  # stops before the two unnamed columns
        "sch-2,,,South High,SCHOOL,0043,dist-1,,\r\n"
        "dist-1,,,Springfield,district,,,,\r\n"
        "\r\n"
    )
    bundle = write_bundle(tmp_path / "b", {"file.orgs": "bulk"}, {"orgs.csv": orgs})
    pulled = pull_bundle(tmp_path, bundle)

    schools = pulled("schools")
    assert [(s["id"], s["name"], s["org_type"]) for s in schools] == [
        ("sch-1", "North\r\nHigh", "school"),
        ("sch-2", "South High", "school"),
    ]
    assert pulled.problems == []


def test_a_row_that_stops_before_a_named_column_is_reported(tmp_path: Path) -> None:
    orgs = "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId,,\nsch-1,,,North,school\n"
    bundle = write_bundle(tmp_path / "b", {"file.orgs": "bulk"}, {"orgs.csv": orgs})
    pulled = pull_bundle(tmp_path, bundle)

    assert pulled("schools") == []
    assert [str(p) for p in pulled.problems] == [
        "orgs.csv line 2 (sourcedId sch-1): 5 fields where the header has 9"
    ]


def test_vendor_columns_reach_extra_and_missing_optional_columns_are_not_provided(tmp_path: Path) -> None:
    classes = (
        "sourcedId,title,courseSourcedId,schoolSourcedId,termSourcedIds,classType,ext_room,metadata.campus\n"
        "c-1,Math,,sch-1,,Scheduled,B12,East\n"
        "c-2,Homeroom,,sch-1,,HOMEROOM,,\n"
    )
    bundle = write_bundle(tmp_path / "b", {"file.classes": "bulk"}, {"classes.csv": classes})
    pulled = pull_bundle(tmp_path, bundle)
    sections = pulled("sections")

    assert [(s["id"], s["section_type"]) for s in sections] == [("c-1", "scheduled"), ("c-2", "homeroom")]
    assert sections[0]["extra"] == {"ext_room": "B12", "metadata.campus": "East"}
    assert sections[1]["extra"] == {}
    assert (sections[0]["section_number"], sections[0]["period"], sections[0]["grades"]) == (None, None, [])
    # A column left out is not a column of empty cells: what it alone feeds is not provided (the target
    # keeps the values it has), never blanked.
    assert pulled.tables.not_provided == [
        ("sections", ("grades",), "classes.csv has no grades column: grades kept as they were"),
        (
            "sections",
            ("section_number",),
            "classes.csv has no classCode column: section_number kept as they were",
        ),
        ("sections", ("subject",), "classes.csv has no subjects column: subject kept as they were"),
        ("sections", ("period",), "classes.csv has no periods column: period kept as they were"),
    ]


def test_a_oneroster_10_column_name_counts_as_its_column(tmp_path: Path) -> None:
    users = (
        "sourcedId,status,role,orgSourcedIds,givenName,familyName,agents,grade,email,phone,sms,identifier,"
        "userIds,middleName\n"
        "par-1,active,parent,sch-1,Ann,Stone,stu-1,,,,,,,\n"
        "stu-1,active,student,sch-1,Ben,Stone,,05,,,,,,\n"
    )
    bundle = write_bundle(tmp_path / "b", {"file.users": "bulk"}, {"users.csv": users})
    pulled = pull_bundle(tmp_path, bundle)

    assert [(s["id"], s["grade"]) for s in pulled("students")] == [("stu-1", "05")]
    assert [(x["student_id"], x["contact_id"]) for x in pulled("student_contacts")] == [("stu-1", "par-1")]
    assert pulled.tables.not_provided == []  # agents is agentSourcedIds, grade is grades


def test_a_file_without_a_column_oneroster_requires_cannot_be_read(tmp_path: Path) -> None:
    users = "sourcedId,status,role,orgSourcedIds,familyName\nstu-1,active,student,sch-1,Stone\n"
    bundle = write_bundle(tmp_path / "b", {"file.users": "bulk"}, {"users.csv": users})

    with pytest.raises(MissingColumns, match=r"users\.csv has no givenName column, which OneRoster requires"):
        pull_bundle(tmp_path, bundle)("students")


def test_day_first_dates_are_read_as_the_file_writes_them(tmp_path: Path) -> None:
    users = (
        HEADER_11
        + "stu-1,active,1/05/2023,true,sch-1,student,,,Ava,Stone,,,,,,,,\n"
        + "stu-2,active,15/06/2023,true,sch-1,student,,,Ben,Stone,,,,,,,,\n"  # 15 is no month: day first
        + "stu-3,active,2017-05-06 08:01:05,true,sch-1,student,,,Cy,Stone,,,,,,,,\n"
    )
    bundle = write_bundle(tmp_path / "b", {"file.users": "bulk"}, {"users.csv": users})
    students = pull_bundle(tmp_path, bundle)("students")

    assert [s["updated_at"] for s in students] == [
        "2023-05-01T00:00:00Z",
        "2023-06-15T00:00:00Z",
        "2017-05-06T08:01:05Z",
    ]


def test_a_file_whose_dates_never_say_is_read_month_first_unless_set(tmp_path: Path) -> None:
    users = HEADER_11 + "stu-1,active,1/05/2023,true,sch-1,student,,,Ava,Stone,,,,,,,,\n"
    bundle = write_bundle(tmp_path / "b", {"file.users": "bulk"}, {"users.csv": users})

    assert pull_bundle(tmp_path, bundle)("students")[0]["updated_at"] == "2023-01-05T00:00:00Z"
    day_first = pull_bundle(tmp_path, bundle, date_order="day_first")("students")
    assert day_first[0]["updated_at"] == "2023-05-01T00:00:00Z"


def test_an_unreadable_date_is_a_warning_naming_the_row_never_a_silent_null(tmp_path: Path) -> None:
    users = (
        HEADER_11
        + "stu-1,active,2023-05-01,true,sch-1,student,,,Ava,Stone,,,,,,,,\n"
        + "stu-2,active,31/31/2023,true,sch-1,student,,,Ben,Stone,,,,,,,,\n"
    )
    bundle = write_bundle(tmp_path / "b", {"file.users": "bulk"}, {"users.csv": users})
    pulled = pull_bundle(tmp_path, bundle)

    assert [(s["id"], s["updated_at"]) for s in pulled("students")] == [
        ("stu-1", "2023-05-01T00:00:00Z"),
        ("stu-2", None),
    ]
    (problem,) = pulled.problems
    assert (problem.severity, str(problem)) == (
        "warning",
        "users.csv line 3 (sourcedId stu-2): dateLastModified '31/31/2023' is not a date this tap can read; "
        "the row is read without it",
    )


def test_roles_and_statuses_in_any_case(tmp_path: Path) -> None:
    users = (
        HEADER_11
        + "stu-1,Active,,true,sch-1,Student,,,Ava,Stone,,,,,,,,\n"
        + "t-1,ACTIVE,,true,sch-1,Teacher,,,Tom,Hill,,,,,,,,\n"
        + "t-2,ToBeDeleted,2026-01-01,true,sch-1,TEACHER,,,Tim,Hill,,,,,,,,\n"
    )
    bundle = write_bundle(tmp_path / "b", {"file.users": "bulk"}, {"users.csv": users})
    pulled = pull_bundle(tmp_path, bundle)

    assert [s["id"] for s in pulled("students")] == ["stu-1"]
    assert [(s["id"], s["roles"], "_sdc_deleted_at" in s) for s in pulled("staff")] == [
        ("t-1", ["teacher"], False),
        ("t-2", ["teacher"], True),
    ]
