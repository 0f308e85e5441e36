"""The district as a OneRoster CSV bundle (1.1 or 1.2; bulk or delta; zip or folder).

The rows come from the same translation the REST server uses, so the CSV, REST and Clever views carry the
same people. Bulk files leave ``status`` and ``dateLastModified`` blank and hold only active records; delta
files hold what changed after a moment, with ``status`` (``active`` or ``tobedeleted``) and the date filled.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plugin_runtime.failures import Failure
from roster_sandbox.district import load
from roster_sandbox.oneroster import OneRosterView
from roster_sandbox.shapes import harden

BASE = ["sourcedId", "status", "dateLastModified"]
COLUMNS = {
    "orgs": [*BASE, "name", "type", "identifier", "parentSourcedId"],
    "academicSessions": [*BASE, "title", "type", "startDate", "endDate", "parentSourcedId", "schoolYear"],
    "courses": [
        *BASE,
        "schoolYearSourcedId",
        "title",
        "courseCode",
        "grades",
        "orgSourcedId",
        "subjects",
        "subjectCodes",
    ],
    "classes": [
        *BASE,
        "title",
        "grades",
        "courseSourcedId",
        "classCode",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
        "subjects",
        "subjectCodes",
        "periods",
    ],
    "enrollments": [
        *BASE,
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "primary",
        "beginDate",
        "endDate",
    ],
    "demographics": [
        *BASE,
        "birthDate",
        "sex",
        "americanIndianOrAlaskaNative",
        "asian",
        "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander",
        "white",
        "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity",
        "countryOfBirthCode",
        "stateOfBirthAbbreviation",
        "cityOfBirth",
        "publicSchoolResidenceStatus",
    ],
}
USERS_11 = [
    *BASE,
    "enabledUser",
    "orgSourcedIds",
    "role",
    "username",
    "userIds",
    "givenName",
    "familyName",
    "middleName",
    "identifier",
    "email",
    "sms",
    "phone",
    "agentSourcedIds",
    "grades",
    "password",
]
USERS_12 = [
    *BASE,
    "enabledUser",
    "username",
    "userIds",
    "givenName",
    "familyName",
    "middleName",
    "identifier",
    "email",
    "sms",
    "phone",
    "agentSourcedIds",
    "grades",
    "password",
    "userMasterIdentifier",
    "resourceSourcedIds",
    "preferredGivenName",
    "preferredMiddleName",
    "preferredFamilyName",
    "primaryOrgSourcedId",
    "pronouns",
]
ROLES_12 = [
    *BASE,
    "userSourcedId",
    "roleType",
    "role",
    "beginDate",
    "endDate",
    "orgSourcedId",
    "userProfileSourcedId",
]
# Files the standard names that this bundle does not carry.
ABSENT = {
    "1.1": ["categories", "classResources", "courseResources", "lineItems", "resources", "results"],
    "1.2": [
        "categories",
        "classResources",
        "courseResources",
        "lineItems",
        "resources",
        "results",
        "userProfiles",
        "lineItemLearningObjectiveIds",
        "lineItemScoreScales",
        "resultLearningObjectiveIds",
        "resultScoreScales",
        "scoreScales",
    ],
}


class ExportError(Failure):
    pass


def _ids(refs: list[dict[str, Any]] | None) -> str:
    return ",".join(r["sourcedId"] for r in refs or [])


def _ref(ref: dict[str, Any] | None) -> str:
    return ref["sourcedId"] if ref else ""


def _row(name: str, obj: dict[str, Any]) -> dict[str, str]:
    """Flatten a REST object into its CSV columns (multi-value cells are comma lists)."""
    row = {k: v for k, v in obj.items() if isinstance(v, str)}
    if name == "orgs" or name == "academicSessions":
        row["parentSourcedId"] = _ref(obj.get("parent"))
    elif name == "courses":
        row.update(
            orgSourcedId=_ref(obj.get("org")),
            schoolYearSourcedId=_ref(obj.get("schoolYear")),
            grades=",".join(obj.get("grades") or []),
            subjects=",".join(obj.get("subjects") or []),
        )
    elif name == "classes":
        row.update(
            courseSourcedId=_ref(obj.get("course")),
            schoolSourcedId=_ref(obj.get("school")),
            termSourcedIds=_ids(obj.get("terms")),
            grades=",".join(obj.get("grades") or []),
            subjects=",".join(obj.get("subjects") or []),
            periods=",".join(obj.get("periods") or []),
        )
    elif name == "enrollments":
        row.update(
            classSourcedId=_ref(obj.get("class")),
            schoolSourcedId=_ref(obj.get("school")),
            userSourcedId=_ref(obj.get("user")),
        )
    elif name == "users":
        row.update(
            userIds=",".join(f"{{{u['type']}:{u['identifier']}}}" for u in obj.get("userIds") or []),
            agentSourcedIds=_ids(obj.get("agents")),
            grades=",".join(obj.get("grades") or []),
            orgSourcedIds=_ids(obj.get("orgs")),
            primaryOrgSourcedId=_ref(obj.get("primaryOrg")),
            preferredGivenName=obj.get("preferredFirstName", ""),
        )
    return row


def export(
    directory: Path, version: str, out: Path, delta_since: str | None = None, shapes: str = "plain"
) -> dict[str, int]:
    """Write the bundle to ``out`` (a .zip file, or else a folder); returns rows per file.

    ``shapes="hard"`` writes the shapes real exports have (shapes.py), and writes them the way those
    exports do: users.csv and roles.csv headers end in two empty columns, and users' dates are filled in,
    day first.
    """
    if version not in ("1.1", "1.2"):
        raise ExportError(f"--version must be 1.1 or 1.2, got {version!r}")
    if shapes not in ("plain", "hard"):
        raise ExportError(f"--shapes must be plain or hard, got {shapes!r}")
    since = _parse_since(delta_since) if delta_since else None
    base = "/ims/oneroster/v1p1" if version == "1.1" else "/ims/oneroster/rostering/v1p2"
    view = OneRosterView(load(Path(directory)), version, base)
    keep: Callable[[dict[str, Any]], bool] = (
        (lambda obj: _after(obj["dateLastModified"], since))
        if since
        else (lambda obj: obj["status"] == "active")
    )
    objects = {name: [e.obj for e in view.collection(name).entries] for name in [*COLUMNS, "users"]}
    if shapes == "hard":
        harden(objects, version)  # the tobedeleted class stays in a bulk file, as such exports do
        keep = _kept_with_deleted_classes(keep)
    hard = shapes == "hard"
    files: dict[str, tuple[list[str], Iterator[dict[str, str]]]] = {}
    for name, columns in COLUMNS.items():
        files[name] = (columns, (_row(name, obj) for obj in objects[name] if keep(obj)))
    kept_users = [u for u in objects["users"] if keep(u)]
    users_columns = USERS_11 if version == "1.1" else USERS_12
    files["users"] = (users_columns, (_dated(_row("users", u), hard) for u in kept_users))
    if version == "1.2":
        files["roles"] = (ROLES_12, _role_rows(kept_users))
    mode = "delta" if since else "bulk"
    counts: dict[str, int] = {}
    contents: dict[str, str] = {}
    for name, (columns, rows) in files.items():
        tail = 2 if hard and name in ("users", "roles") else 0
        blank = not since and not (hard and name == "classes")  # a hard bulk file says which class goes
        text, counts[name] = _csv(columns, rows, blank_status=blank, tail=tail)
        contents[f"{name}.csv"] = text
    manifest = [("manifest.version", "1.0"), ("oneroster.version", version)]
    manifest += [(f"file.{name}", mode) for name in sorted(files)]
    manifest += [(f"file.{name}", "absent") for name in ABSENT[version]]
    manifest += [("source.systemName", "roster-sandbox"), ("source.systemCode", "sandbox")]
    contents["manifest.csv"] = _csv(
        ["propertyName", "value"], ({"propertyName": k, "value": v} for k, v in manifest), False
    )[0]
    _write(Path(out), contents)
    return counts


def _kept_with_deleted_classes(keep: Callable[[dict[str, Any]], bool]) -> Callable[[dict[str, Any]], bool]:
    """A hard bulk file keeps the classes it marks tobedeleted (and the rows it keeps anyway)."""
    return lambda obj: keep(obj) or (obj.get("status") == "tobedeleted" and "classType" in obj)


def _dated(row: dict[str, str], day_first: bool) -> dict[str, str]:
    """A users row with its dateLastModified kept and written day first (``1/05/2023``)."""
    if not day_first or not row.get("dateLastModified"):
        return row
    moment = datetime.fromisoformat(row["dateLastModified"].replace("Z", "+00:00"))
    return {**row, "_date": f"{moment.day}/{moment.month:02d}/{moment.year}"}


def _role_rows(users: list[dict[str, Any]]) -> Iterator[dict[str, str]]:
    for user in users:
        for n, role in enumerate(user.get("roles") or []):
            yield {
                "sourcedId": f"{user['sourcedId']}-role{n}",
                "status": user["status"],
                "dateLastModified": user["dateLastModified"],
                "userSourcedId": user["sourcedId"],
                "roleType": role["roleType"],
                "role": role["role"],
                "orgSourcedId": role["org"]["sourcedId"],
            }


def _csv(
    columns: list[str], rows: Iterator[dict[str, str]], blank_status: bool, tail: int = 0
) -> tuple[str, int]:
    """The file's text and row count; ``tail`` empty columns end the header (rows stop before them)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    buffer.write(",".join(columns) + "," * tail + "\r\n")
    count = 0
    for row in rows:
        if blank_status:
            row = {**row, "status": "", "dateLastModified": row.get("_date", "")}
        writer.writerow(row)
        count += 1
    return buffer.getvalue(), count


def _write(out: Path, contents: dict[str, str]) -> None:
    if out.suffix == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, text in contents.items():
                bundle.writestr(name, text)
    else:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in contents.items():
            (out / name).write_text(text, newline="")


def _parse_since(text: str) -> datetime:
    try:
        since = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ExportError(f"--delta-since must be an ISO 8601 date-time, got {text!r}") from exc
    return since if since.tzinfo else since.replace(tzinfo=UTC)


def _after(stamp: str, since: datetime | None) -> bool:
    return since is not None and datetime.fromisoformat(stamp.replace("Z", "+00:00")) > since
