"""OneRoster CSV bundles (1.1 and 1.2, bulk or delta, a zip or a folder) read as REST-shaped objects.

Each row is turned into the JSON object a OneRoster REST server would return for it, so the record mapping
never knows which source it reads.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from bloomz_sync import failures
from tap_oneroster import columns

logger = logging.getLogger("tap_oneroster.csv")

# collection → its file in the bundle
FILES = {
    "orgs": "orgs.csv",
    "academicSessions": "academicSessions.csv",
    "classes": "classes.csv",
    "courses": "courses.csv",
    "users": "users.csv",
    "enrollments": "enrollments.csv",
}
# CSV column → (REST field, kind): ref = one GUIDRef, refs = a list of GUIDRefs, list = a list of strings
_COLUMNS: dict[str, tuple[str, str]] = {
    "parentSourcedId": ("parent", "ref"),
    "courseSourcedId": ("course", "ref"),
    "schoolSourcedId": ("school", "ref"),
    "classSourcedId": ("class", "ref"),
    "userSourcedId": ("user", "ref"),
    "orgSourcedId": ("org", "ref"),
    "schoolYearSourcedId": ("schoolYear", "ref"),
    "primaryOrgSourcedId": ("primaryOrg", "ref"),
    "termSourcedIds": ("terms", "refs"),
    "orgSourcedIds": ("orgs", "refs"),
    "agentSourcedIds": ("agents", "refs"),
    "resourceSourcedIds": ("resources", "refs"),
    "grades": ("grades", "list"),
    "subjects": ("subjects", "list"),
    "subjectCodes": ("subjectCodes", "list"),
    "periods": ("periods", "list"),
    # 1.2 CSV names the preferred names differently from 1.2 JSON.
    "preferredGivenName": ("preferredFirstName", "text"),
    "preferredMiddleName": ("preferredMiddleName", "text"),
    "preferredFamilyName": ("preferredLastName", "text"),
}
_USER_ID = re.compile(r"\{([^:{}]*):([^{}]*)\}")
Dropped = Callable[[int, str], None]  # (line, reason) of a row that is skipped


class Reporter(Protocol):
    """Who hears of rows and columns the bundle lacks (the tap: bloomz_sync.pull.PullTap)."""

    def report_unreadable(
        self, stream: str, where: str, reason: str, record_id: str | None = None
    ) -> None: ...

    def report_not_provided(self, stream: str, fields: Iterable[str] | None, why: str) -> None: ...


class LogReporter:
    """Without a tap: log each skipped row and missing column."""

    def report_unreadable(self, stream: str, where: str, reason: str, record_id: str | None = None) -> None:
        logger.error("%s: %s", where, reason)

    def report_not_provided(self, stream: str, fields: Iterable[str] | None, why: str) -> None:
        logger.warning("%s: %s", stream, why)


def _records(handle: IO[str], name: str, dropped: Dropped) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each record of a CSV file.

    A record spanning several lines is almost always an unclosed quote swallowing the lines after it (up to
    the next quote, or the end of the file): such a stretch is read again line by line, so only the bad
    line is lost. So is a record over the csv module's field size limit.
    """
    consumed: list[str] = []  # the physical lines of the record being read
    number = 0

    def lines() -> Iterator[str]:
        nonlocal number
        for text in handle:
            number += 1
            consumed.append(text)
            yield text

    reader = csv.reader(lines())
    while True:
        consumed.clear()
        cells: list[str] | None = None
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            logger.error(
                "%s line %d: %s; reading its lines one by one", name, number - len(consumed) + 1, exc
            )
        first = number - len(consumed) + 1
        if cells is not None and len(consumed) == 1:
            yield first, cells
        else:
            yield from _line_by_line(list(consumed), first, dropped)


def _checked_text(rows: Iterator[Any], name: str) -> Iterator[Any]:
    """``rows``, with text that is not UTF-8 reported by file (the whole file is refused: its rows could not
    be told apart from mojibake)."""
    try:
        yield from rows
    except UnicodeDecodeError:
        raise BundleError(f"{name} is not UTF-8 text; save it as UTF-8 (with or without a BOM)") from None


def _line_by_line(stretch: list[str], first: int, dropped: Dropped) -> Iterator[tuple[int, list[str]]]:
    """Each line of a stretch as its own record; a line whose quote never closes is reported and skipped."""
    for number, text in enumerate(stretch, start=first):
        try:
            cells = next(csv.reader([text]), [])
        except csv.Error:
            cells = [""]  # reported by the caller as a field count mismatch
        if any("\n" in cell or "\r" in cell for cell in cells):
            dropped(number, "malformed row skipped: a quoted field is never closed")
            continue
        yield number, cells


def _instant(text: Any) -> datetime | None:
    """A dateLastModified (or bookmark) as a point in time, so that formats compare; None if unreadable."""
    try:
        moment = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class BundleError(failures.BadInput):
    """The bundle cannot be read at all (missing, not a zip, no manifest)."""


# roles.csv (1.2) gives users their roles and schools: a bad row of it is a user the streams may miss.
_COLLECTION_OF_FILE = {**{file: collection for collection, file in FILES.items()}, "roles.csv": "users"}


def split_list(cell: str) -> list[str]:
    """A multi-value cell ("a,b,c", already unquoted by the CSV reader) as its values."""
    return [part.strip() for part in cell.split(",") if part.strip()]


def parse_user_ids(cell: str) -> list[dict[str, str]]:
    """`{type:identifier},{type:identifier}` → [{"type": ..., "identifier": ...}]."""
    return [{"type": t.strip(), "identifier": i.strip()} for t, i in _USER_ID.findall(cell)]


def row_to_object(row: dict[str, str]) -> dict[str, Any]:
    """One CSV row as the REST JSON object: GUIDRefs, lists, and no empty cells."""
    obj: dict[str, Any] = {}
    for column, cell in row.items():
        value = (cell or "").strip()
        if not value:
            continue
        field, kind = _COLUMNS.get(column, (column, "text"))
        if column == "userIds":
            obj[field] = parse_user_ids(value)
        elif kind == "ref":
            obj[field] = {"sourcedId": value}
        elif kind == "refs":
            obj[field] = [{"sourcedId": v} for v in split_list(value)]
        elif kind == "list":
            obj[field] = split_list(value)
        else:
            obj[field] = value
    return obj


class CsvSource:
    """A OneRoster CSV bundle: `read(collection)` yields REST-shaped objects."""

    def __init__(self, path: str | Path, reporter: Reporter | None = None) -> None:
        self.path = Path(path)
        self.reporter = reporter or LogReporter()
        if not self.path.exists():
            raise BundleError(f"OneRoster CSV bundle {self.path} does not exist")
        if self.path.is_file() and not zipfile.is_zipfile(self.path):
            raise BundleError(f"OneRoster CSV bundle {self.path} is neither a folder nor a zip file")
        self.manifest = self._read_manifest()
        self._roles = self._read_roles()

    # -- bundle access

    def _names(self) -> dict[str, str]:
        """File name → its path inside the bundle (zips often hold the files in a sub-folder)."""
        if self.path.is_dir():
            return {p.name: str(p) for p in self.path.iterdir() if p.is_file()}
        with zipfile.ZipFile(self.path) as bundle:
            return {Path(n).name: n for n in bundle.namelist() if not n.endswith("/")}

    @contextmanager
    def _open(self, name: str) -> Iterator[IO[str] | None]:
        member = self._names().get(name)
        if member is None:
            yield None
        elif self.path.is_dir():
            with open(member, encoding="utf-8-sig", newline="") as handle:
                yield handle
        else:
            with zipfile.ZipFile(self.path) as bundle, bundle.open(member) as raw:
                yield io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")

    def _rows(self, name: str) -> Iterator[dict[str, str]]:
        """The rows of one file; a malformed row is logged with file and line and skipped."""
        with self._open(name) as handle:
            if handle is None:
                # Listed but missing: reading it as empty would look like everyone left.
                raise BundleError(
                    f"the manifest of {self.path} lists {name}, but the bundle has no such file"
                )
            header: list[str] | None = None
            collection = _COLLECTION_OF_FILE.get(name, name)

            def dropped(line: int, reason: str) -> None:
                # Never the row's cells: a line that does not parse may hold anyone's name or address.
                self.reporter.report_unreadable(collection, f"{name} line {line}", reason)

            for line, cells in _checked_text(_records(handle, name, dropped), name):
                if header is None:
                    header = [h.strip() for h in cells]
                    if "sourcedId" not in header:  # another delimiter, or not a OneRoster file
                        raise BundleError(
                            f"{name} line 1: the header has no sourcedId column; a OneRoster "
                            "CSV file is comma-separated with a header row"
                        )
                    self._check_header(name, header)
                    continue
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) != len(header):
                    reason = f"malformed row skipped: {len(cells)} fields where the header has {len(header)}"
                    dropped(line, reason)
                    continue
                row = dict(zip(header, cells, strict=True))
                if not row.get("sourcedId", "").strip():
                    dropped(line, "malformed row skipped: no sourcedId")
                    continue
                yield row
            if header is None:  # reading it as empty would look like everyone left
                raise BundleError(f"{name} is empty: it has no header row")

    def _check_header(self, name: str, header: list[str]) -> None:
        """Fail on a missing required column; report the fields a missing optional one feeds."""
        columns.check_required(name, header, has_roles_file=self.file_mode("roles") != "absent")
        for stream, fields, why in columns.not_provided(name, header):
            self.reporter.report_not_provided(stream, fields, why)

    def _read_manifest(self) -> dict[str, str]:
        with self._open("manifest.csv") as handle:
            if handle is None:
                raise BundleError(f"OneRoster CSV bundle {self.path} has no manifest.csv")
            reader = csv.DictReader(_checked_text(iter(handle), "manifest.csv"))
            if reader.fieldnames is None or "propertyName" not in reader.fieldnames:
                raise BundleError("manifest.csv line 1: the header is not propertyName,value")
            return {
                (row.get("propertyName") or "").strip(): (row.get("value") or "").strip() for row in reader
            }

    def _read_roles(self) -> dict[str, list[dict[str, Any]]]:
        """1.2 roles.csv: user sourcedId → its `roles[]`, as 1.2 JSON carries them on the user."""
        roles: dict[str, list[dict[str, Any]]] = {}
        if self.file_mode("roles") == "absent":
            return roles
        for row in self._rows("roles.csv"):
            obj = row_to_object(row)
            user_id = (obj.pop("user", None) or {}).get("sourcedId")
            if user_id:
                # A role row's own id and status are the file's bookkeeping, not part of the 1.2 Role.
                role = {k: v for k, v in obj.items() if k not in ("sourcedId", "status", "dateLastModified")}
                roles.setdefault(user_id, []).append(role)
        return roles

    # -- what the streams use

    def file_mode(self, name: str) -> str:
        """bulk, delta or absent, as the manifest says for `file.<name>` (absent when not listed)."""
        return self.manifest.get(f"file.{name}", "absent").lower()

    def is_complete(self, collection: str) -> bool:
        """True when the bundle holds the whole collection (a bulk file), so a full sync may close it."""
        return self.file_mode(collection) == "bulk"

    def read(self, collection: str, since: str | None = None) -> Iterator[dict[str, Any]]:
        """The collection's objects; with `since`, only those modified after it (bulk rows always pass)."""
        if self.file_mode(collection) == "absent":
            return
        after = _instant(since)
        for row in self._rows(FILES[collection]):
            obj = row_to_object(row)
            modified = _instant(obj.get("dateLastModified"))
            if after is not None and modified is not None and modified <= after:
                continue
            if collection == "users" and obj["sourcedId"] in self._roles:
                obj["roles"] = self._roles[obj["sourcedId"]]
            yield obj
