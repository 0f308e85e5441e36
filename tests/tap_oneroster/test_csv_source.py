"""Reading OneRoster CSV bundles: manifest, multi-value cells, userIds, 1.2 roles.csv, malformed rows."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest
from tap_oneroster.csv_source import BundleError, CsvSource, parse_user_ids

from .conftest import write_bundle, zip_folder

USERS_11 = (
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,"
    "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
    'stu-1,,,true,"sch-1,sch-2",student,ava,"{StateID:ST-99},{LDAP:ava}",Ava,Stone,,10001,,,,par-1,05,\n'
    "par-1,,,true,sch-1,parent,pat,,Pat,Stone,,,pat@example.net,555-0100,,stu-1,,\n"
    "broken,row\n"
    "t-1,,,true,sch-1,teacher,tom,,Tom,Hill,,T100,tom@example.net,,,,,\n"
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


def test_users_rows_read_as_rest_objects(bundle_11: Path) -> None:
    users = {u["sourcedId"]: u for u in CsvSource(bundle_11).read("users")}

    assert set(users) == {"stu-1", "par-1", "t-1"}
    student = users["stu-1"]
    assert student["orgs"] == [{"sourcedId": "sch-1"}, {"sourcedId": "sch-2"}]
    assert student["userIds"] == [
        {"type": "StateID", "identifier": "ST-99"},
        {"type": "LDAP", "identifier": "ava"},
    ]
    assert student["agents"] == [{"sourcedId": "par-1"}]
    assert student["grades"] == ["05"]
    assert "email" not in student  # empty cells are absent, as a REST server would leave them out


def test_a_malformed_row_is_reported_with_file_and_line_and_the_rest_is_read(
    bundle_11: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        ids = [u["sourcedId"] for u in CsvSource(bundle_11).read("users")]

    assert ids == ["stu-1", "par-1", "t-1"]
    assert "users.csv line 4: malformed row skipped: 2 fields where the header has 18" in caplog.text


def test_manifest_absent_and_unlisted_files_yield_nothing_and_are_not_complete(bundle_11: Path) -> None:
    source = CsvSource(bundle_11)

    assert list(source.read("orgs")) == []
    assert list(source.read("classes")) == []
    assert source.is_complete("users")
    assert not source.is_complete("orgs")
    assert not source.is_complete("classes")


def test_a_zip_with_the_files_in_a_subfolder_reads_like_the_folder(bundle_11: Path, tmp_path: Path) -> None:
    archive = zip_folder(bundle_11, tmp_path / "bundle.zip", prefix="export-2026/")

    assert list(CsvSource(archive).read("users")) == list(CsvSource(bundle_11).read("users"))


def test_a_delta_file_keeps_status_and_filters_by_since(tmp_path: Path) -> None:
    users = (
        "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,"
        "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
        "stu-1,tobedeleted,2026-10-02T00:00:00Z,true,sch-1,student,,,Ava,Stone,,,,,,,,\n"
        "stu-2,active,2026-09-01T00:00:00Z,true,sch-1,student,,,Ben,Stone,,,,,,,,\n"
    )
    bundle = write_bundle(
        tmp_path / "delta", {"oneroster.version": "1.1", "file.users": "delta"}, {"users.csv": users}
    )
    source = CsvSource(bundle)

    rows = list(source.read("users", since="2026-10-01T00:00:00Z"))
    assert [(u["sourcedId"], u["status"]) for u in rows] == [("stu-1", "tobedeleted")]
    assert not source.is_complete("users")


def test_12_roles_csv_becomes_the_users_roles(tmp_path: Path) -> None:
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
    source = CsvSource(write_bundle(tmp_path / "b12", manifest, {"users.csv": users, "roles.csv": roles}))

    (user,) = source.read("users")
    assert user["primaryOrg"] == {"sourcedId": "sch-1"}
    assert user["preferredFirstName"] == "Tommy"
    assert user["roles"] == [
        {"roleType": "primary", "role": "teacher", "org": {"sourcedId": "sch-1"}},
        {"roleType": "secondary", "role": "principal", "org": {"sourcedId": "sch-2"}},
    ]


def test_a_missing_or_broken_bundle_is_a_clear_error(tmp_path: Path) -> None:
    not_zip = tmp_path / "bundle.zip"
    not_zip.write_text("not a zip")
    no_manifest = tmp_path / "empty"
    no_manifest.mkdir()

    with pytest.raises(BundleError, match="does not exist"):
        CsvSource(tmp_path / "nowhere")
    with pytest.raises(BundleError, match="neither a folder nor a zip"):
        CsvSource(not_zip)
    with pytest.raises(BundleError, match=r"has no manifest\.csv"):
        CsvSource(no_manifest)


def test_a_file_the_manifest_lists_but_the_bundle_lacks_is_an_error(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "b", {"oneroster.version": "1.1", "file.enrollments": "bulk"}, {})

    with pytest.raises(BundleError, match=r"lists enrollments\.csv, but the bundle has no such file"):
        list(CsvSource(bundle).read("enrollments"))


def test_user_ids_cell() -> None:
    assert parse_user_ids("{Fed:1234},{State: 5678}") == [
        {"type": "Fed", "identifier": "1234"},
        {"type": "State", "identifier": "5678"},
    ]
    assert parse_user_ids("") == []


HEADER_11 = USERS_11.splitlines()[0] + "\n"


def test_an_unclosed_quote_loses_only_its_own_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    users = (
        HEADER_11
        + "stu-1,,,true,sch-1,student,ava,,Ava,Stone,,10001,,,,,05,\n"
        + 'stu-2,,,true,sch-1,student,ben,,"Ben,Stone,,10002,,,,,05,\n'  # the quote never closes
        + "stu-3,,,true,sch-1,student,cy,,Cy,Stone,,10003,,,,,05,\n"
        + "stu-4,,,true,sch-1,student,di,,Di,Stone,,10004,,,,,05,\n"
    )
    bundle = write_bundle(tmp_path / "b", {"file.users": "bulk"}, {"users.csv": users})
    with caplog.at_level(logging.ERROR):
        ids = [u["sourcedId"] for u in CsvSource(bundle).read("users")]

    assert ids == ["stu-1", "stu-3", "stu-4"]
    assert "users.csv line 3: malformed row skipped: a quoted field is never closed" in caplog.text


def test_an_over_long_record_loses_only_its_own_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    huge = "x" * (csv.field_size_limit() + 10)
    users = (
        HEADER_11
        + "stu-1,,,true,sch-1,student,ava,,Ava,Stone,,10001,,,,,05,\n"
        + f'stu-2,,,true,sch-1,student,ben,,"{huge}",Stone,,10002,,,,,05,\n'
        + "stu-3,,,true,sch-1,student,cy,,Cy,Stone,,10003,,,,,05,\n"
    )
    bundle = write_bundle(tmp_path / "b", {"file.users": "bulk"}, {"users.csv": users})
    with caplog.at_level(logging.ERROR):
        ids = [u["sourcedId"] for u in CsvSource(bundle).read("users")]

    assert ids == ["stu-1", "stu-3"]
    assert "users.csv line 3: field larger than field limit" in caplog.text
    assert huge not in caplog.text


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

    rows = CsvSource(bundle).read("users", since="2026-10-01T05:00:00Z")
    assert [u["sourcedId"] for u in rows] == ["stu-1"]
