"""OneRoster CSV bundles (1.1 and 1.2, bulk or delta, a zip or a folder): each file read into DuckDB.

A file is read by DuckDB's CSV reader (strict about quotes and column counts; its rejects table names the
byte of each row it refused) into a table of text columns in header order. What real exports do is taken
as it comes: a byte order mark, CRLF, quoted line breaks, empty columns at the end of the header (``...,,``)
and rows that stop before them, vendor columns, optional columns left out, blank lines.

A file that cannot be read at all stops the run, naming it: not UTF-8 (its rows could not be told apart
from mojibake), empty (reading it as empty would look like everyone left), or a header without a sourcedId
column (another delimiter, or not a OneRoster file). A row that cannot be read becomes a ``Problem`` naming
its file, line and reason; the rest is read. The reader is checked against the file itself: every physical
line must belong to the header, a row read, a row refused or a blank line. When they do not add up (a quote
that never closes swallows the rest of the file, and DuckDB keeps quiet about it), the file is read again by
Python's csv module, line by line through any stretch that does not parse, so only the broken lines are
lost.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from plugin_runtime import failures
from tap_oneroster.problems import Problem

# collection → its file in the bundle
FILES = {
    "orgs": "orgs.csv",
    "academicSessions": "academicSessions.csv",
    "classes": "classes.csv",
    "courses": "courses.csv",
    "users": "users.csv",
    "enrollments": "enrollments.csv",
    "roles": "roles.csv",
    "userProfiles": "userProfiles.csv",
    "demographics": "demographics.csv",
}
_MISSING = "\x01\x02"  # DuckDB's null string: an empty cell reads as '', a cell the row lacks as NULL
_REASONS = {
    "UNQUOTED VALUE": "a quoted field is never closed",
    "LINE SIZE OVER MAXIMUM": "the row is longer than the reader allows",
}


class BundleError(failures.BadInput):
    """The bundle cannot be read at all (missing, not a zip, no manifest, a listed file missing)."""


@dataclass
class CsvFile:
    """One file loaded into ``table``: text columns ``c0``.. in header order, and ``_ord`` (row order)."""

    name: str
    header: list[str]  # the header's names, "" for an unnamed column
    data: bytes = field(repr=False)
    rejected_lines: frozenset[int] = frozenset()
    lines: list[int] | None = field(default=None, repr=False)  # _ord - 1 → the row's first line

    def line_of(self, ordinal: int) -> int:
        """The first line of the row loaded as ``_ord`` = ``ordinal`` (the file is read again, once)."""
        if self.lines is None:
            self.lines = [
                line for line, cells in _records(self.data) if cells and line not in self.rejected_lines
            ]
        return self.lines[ordinal - 1]


class CsvSource:
    """A OneRoster CSV bundle: its manifest, and each collection's file loaded into DuckDB on request."""

    def __init__(self, path: str | Path, workdir: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise BundleError(f"OneRoster CSV bundle {self.path} does not exist")
        if self.path.is_file() and not zipfile.is_zipfile(self.path):
            raise BundleError(f"OneRoster CSV bundle {self.path} is neither a folder nor a zip file")
        self._workdir = workdir  # private: files taken out of a zip hold the district's data
        self._members = self._list_members()
        self.manifest = self._read_manifest()

    def _list_members(self) -> dict[str, str]:
        """File name in lower case → its path inside the bundle (zips often hold a sub-folder)."""
        if self.path.is_dir():
            return {p.name.lower(): str(p) for p in self.path.iterdir() if p.is_file()}
        with zipfile.ZipFile(self.path) as bundle:
            return {Path(n).name.lower(): n for n in bundle.namelist() if not n.endswith("/")}

    def _file(self, name: str) -> Path | None:
        """A file of the bundle on disk (taken out of a zip once), its name matched without case."""
        member = self._members.get(name.lower())
        if member is None:
            return None
        if self.path.is_dir():
            return Path(member)
        target = self._workdir / name
        if not target.exists():
            with zipfile.ZipFile(self.path) as bundle, bundle.open(member) as raw, target.open("wb") as out:
                while chunk := raw.read(1 << 20):
                    out.write(chunk)
        return target

    def _read_manifest(self) -> dict[str, str]:
        path = self._file("manifest.csv")
        if path is None:
            raise BundleError(f"OneRoster CSV bundle {self.path} has no manifest.csv")
        rows = [row for row in csv.reader(io.StringIO(_text(path.read_bytes(), "manifest.csv"))) if row]
        if not rows or rows[0][0].strip().lower() != "propertyname":
            raise BundleError("manifest.csv line 1: the header is not propertyName,value")
        return {row[0].strip().lower(): (row[1] if len(row) > 1 else "").strip() for row in rows[1:]}

    def file_mode(self, collection: str) -> str:
        """bulk, delta or absent, as the manifest says for ``file.<collection>`` (absent when not listed, or
        when the value is neither bulk nor delta)."""
        mode = self.manifest.get(f"file.{collection}".lower(), "").lower()
        return mode if mode in ("bulk", "delta") else "absent"

    def is_complete(self, collection: str) -> bool:
        """True when the bundle holds the whole collection (a bulk file), so a full sync may close it."""
        return self.file_mode(collection) == "bulk"

    def header(self, collection: str) -> list[str]:
        """The names of the collection file's header ([] when the bundle has no such file or it is empty)."""
        path = self._file(FILES[collection]) if self.file_mode(collection) != "absent" else None
        if path is None:
            return []
        with path.open("rb") as handle:
            header = _header(handle.read(1 << 16).decode("utf-8-sig", errors="replace"))
        _check_header(header, FILES[collection])
        return header

    def load(
        self, con: duckdb.DuckDBPyConnection, collection: str, table: str, problems: list[Problem]
    ) -> CsvFile | None:
        """Load the collection's file as ``table``; None when the manifest says the bundle has none."""
        if self.file_mode(collection) == "absent":
            return None
        name = FILES[collection]
        path = self._file(name)
        if path is None:
            # Listed but missing: reading it as empty would look like everyone left.
            raise BundleError(f"the manifest of {self.path} lists {name}, but the bundle has no such file")
        data = path.read_bytes()
        header = _header(_text(data, name))
        if not header:  # reading it as empty would look like everyone left
            raise BundleError(f"{name} is empty: it has no header row")
        _check_header(header, name)
        rejects = _read_with_duckdb(con, path, len(header), table, may_fail=True)
        if rejects is not None and _lines_add_up(con, data, table, header, rejects):
            loaded = CsvFile(name, header, data, frozenset(_line_at(data, byte) for byte, _, _ in rejects))
            # a row with no value in it (",,," or a lone quote) loses nothing: it is not reported
            problems += [
                _refused(loaded, byte, error, text) for byte, error, text in rejects if _has_value(text)
            ]
        else:
            clean = self._workdir / f"{table}.csv"
            lines = _rewrite_with_python(data, name, header, clean, problems)
            _read_with_duckdb(con, clean, len(header), table)  # as Python's csv module wrote it
            loaded = CsvFile(name, header, data, lines=lines)
        _leave_out_short_rows(con, table, loaded, problems)
        return loaded


def _text(data: bytes, name: str) -> str:
    """The file as text; a file that is not UTF-8 is refused whole."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BundleError(f"{name} is not UTF-8 text; save it as UTF-8 (with or without a BOM)") from None


def _check_header(header: list[str], name: str) -> None:
    """A header without sourcedId is another delimiter, or not a OneRoster file: the file cannot be read."""
    if header and "sourcedid" not in (h.lower() for h in header):
        raise BundleError(
            f"{name} line 1: the header has no sourcedId column; a OneRoster CSV file is "
            "comma-separated with a header row"
        )


def _header(text: str) -> list[str]:
    """The header's names, trimmed; [] for an empty file."""
    return [cell.strip() for cell in next(csv.reader(io.StringIO(text[: 1 << 16])), [])]


def _read_with_duckdb(
    con: duckdb.DuckDBPyConnection, path: Path, width: int, table: str, may_fail: bool = False
) -> list[tuple] | None:
    """Load the rows as ``c0``.. and ``_ord``; return the ones DuckDB refused as (byte, error, text). With
    ``may_fail``, None when the reader stops on the file as a whole (its line ends change half-way): Python's
    csv module reads it then."""
    con.execute("DROP TABLE IF EXISTS csv_rejects; DROP TABLE IF EXISTS csv_reject_scans")
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width)) + "}"
    file = str(path).replace("'", "''")
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {table} AS SELECT *, row_number() OVER () AS _ord FROM read_csv("
            f"'{file}', header = true, auto_detect = false, columns = {columns}, delim = ',', quote = '\"', "
            f"escape = '\"', strict_mode = true, null_padding = true, nullstr = '{_MISSING}', "
            "parallel = false, store_rejects = true, rejects_table = 'csv_rejects', "
            "rejects_scan = 'csv_reject_scans')"
        )
    except duckdb.InvalidInputException:
        if not may_fail:
            raise
        return None
    refused = con.execute(
        "SELECT line_byte_position, error_type, csv_line FROM csv_rejects ORDER BY line_byte_position"
    ).fetchall()
    con.execute("DROP TABLE csv_rejects; DROP TABLE csv_reject_scans")
    return refused


def _lines_add_up(
    con: duckdb.DuckDBPyConnection, data: bytes, table: str, header: list[str], refused: list[tuple]
) -> bool:
    """Whether the rows DuckDB read account for every line of the file (with the header, the rows it
    refused and the blank lines), and none of them holds a line break followed by what looks like a row
    of its own (a quote left open swallowed it)."""
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    rows = int(row[0]) if row else 0
    inner_breaks = 0
    if b'"' in data:  # only a quoted field holds a line break
        width = len(header)
        spans = " OR ".join(f"contains(c{i}, chr(10))" for i in range(width))
        cells = "[" + ", ".join(f"c{i}" for i in range(width)) + "]"
        for (values,) in con.execute(f"SELECT {cells} FROM {table} WHERE {spans}").fetchall():
            for value in values:
                if value and "\n" in value:
                    inner_breaks += value.count("\n")
                    if any(_looks_like_a_row(line, width) for line in value.splitlines()[1:]):
                        return False
    refused_lines = sum(str(text).strip("\r\n").count("\n") + 1 for _, _, text in refused)
    return _first_record_lines(data) + rows + inner_breaks + refused_lines + _blank_lines(data) == lines


def _looks_like_a_row(line: str, width: int) -> bool:
    """A line inside a quoted field with as many commas as a row of the file has: almost surely a row that a
    quote left open swallowed, not a line break of a value (an address, a note)."""
    return line.count(",") >= max(width - 1, 2)


def _blank_lines(data: bytes) -> int:
    if b"\n\n" not in data and b"\n\r\n" not in data and not data.startswith((b"\n", b"\r\n")):
        return 0  # the usual case, without splitting the file
    pieces = data.split(b"\n")
    return sum(1 for piece in pieces if piece in (b"", b"\r")) - (1 if data.endswith(b"\n") else 0)


def _first_record_lines(data: bytes) -> int:
    """How many lines the header record spans (a quoted line break in a header is legal)."""
    text = data[: 1 << 16].decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader, None)
    return max(reader.line_num, 1)


def _line_at(data: bytes, byte: int) -> int:
    """The line of a row DuckDB refused, from the byte it names."""
    return data.count(b"\n", 0, max(byte - 1, 0)) + 1


def _refused(loaded: CsvFile, byte: int, error: str, text: str) -> Problem:
    cells = next(csv.reader(io.StringIO(str(text).lstrip("\r\n"))), [])
    reason = _REASONS.get(str(error), str(error).lower())
    if error == "TOO MANY COLUMNS":
        reason = f"{len(cells)} fields where the header has {len(loaded.header)}"
    where = f"{loaded.name} line {_line_at(loaded.data, int(byte))}"
    return Problem(_collection(loaded.name), where, reason, _sourced_id(loaded.header, cells))


def _has_value(text: str) -> bool:
    """Whether a refused row holds any value (a lone quote or commas alone do not)."""
    return any(c.strip() for c in next(csv.reader(io.StringIO(str(text).strip("\r\n"))), []))


def _collection(name: str) -> str:
    return next(c for c, file in FILES.items() if file == name)


def _sourced_id(header: list[str], cells: list[str]) -> str | None:
    """The sourcedId cell of a row, when the header has one and the row reaches it."""
    lowered = [h.lower() for h in header]
    if "sourcedid" not in lowered:
        return None
    column = lowered.index("sourcedid")
    return cells[column].strip() or None if column < len(cells) else None


def _leave_out_short_rows(
    con: duckdb.DuckDBPyConnection, table: str, loaded: CsvFile, problems: list[Problem]
) -> None:
    """A row may stop before the unnamed columns at the header's end (``...,,``), not before a named one:
    such a row is reported and left out."""
    named = [i for i, name in enumerate(loaded.header) if name]
    if not named:
        return
    cells = "[" + ", ".join(f"c{i}" for i in range(len(loaded.header))) + "]"
    last = f"c{max(named)}"
    short = con.execute(
        f"SELECT _ord, len(list_filter({cells}, lambda x: x IS NOT NULL)), {cells} FROM {table} "
        f"WHERE {last} IS NULL ORDER BY _ord"
    ).fetchall()
    for ordinal, width, values in short:
        if not any(str(v or "").strip() for v in values):  # a row with no value in it (",,,") loses nothing
            continue
        problems.append(
            Problem(
                _collection(loaded.name),
                f"{loaded.name} line {loaded.line_of(ordinal)}",
                f"{width} fields where the header has {len(loaded.header)}",
                _sourced_id(loaded.header, [v or "" for v in values]),
            )
        )
    if short:
        con.execute(f"DELETE FROM {table} WHERE {last} IS NULL")


def _records(data: bytes) -> Iterator[tuple[int, list[str]]]:
    """(first line, cells) of each record after the header, as Python's csv module reads them ([] for a
    blank line). Only for files that parse: see ``_rewrite_with_python`` for the others."""
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader, None)
    first = reader.line_num + 1
    for cells in reader:
        yield first, cells
        first = reader.line_num + 1


def _rewrite_with_python(
    data: bytes, name: str, header: list[str], clean: Path, problems: list[Problem]
) -> list[int]:
    """Read the file with Python's csv module into ``clean`` (the header, then each readable row padded to
    the header's width with cells read as missing, as DuckDB pads); report the others; return the first
    line of each row written."""
    lines: list[int] = []
    with clean.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for line, cells, problem in _rescued(data, len(header)):
            if not any(
                c.strip() for c in cells
            ):  # a row with no value in it (",,,", a lone quote) loses nothing
                continue
            if problem is not None:
                where = f"{name} line {line}"
                problems.append(Problem(_collection(name), where, problem, _sourced_id(header, cells)))
            else:
                writer.writerow(cells + [_MISSING] * (len(header) - len(cells)))
                lines.append(line)
    return lines


def _rescued(data: bytes, width: int) -> Iterator[tuple[int, list[str], str | None]]:
    """(first line, cells, problem) of each record after the header.

    A record that does not parse, or spans several lines without coming out with the header's width, is
    almost always an unclosed quote swallowing the lines after it: those lines are read one by one instead,
    so only the bad one is lost.
    """
    consumed: list[str] = []  # the physical lines of the record being read
    number = 0

    def physical() -> Iterator[str]:
        nonlocal number
        for text in io.StringIO(data.decode("utf-8-sig", errors="replace"), newline=""):
            number += 1
            consumed.append(text)
            yield text

    reader = csv.reader(physical(), strict=True)
    next(reader, None)  # the header
    while True:
        consumed.clear()
        try:
            cells: list[str] | None = next(reader)
        except StopIteration:
            return
        except csv.Error:
            cells = None
        first = number - len(consumed) + 1
        swallowed = cells is not None and any(
            _looks_like_a_row(line, width) for cell in cells for line in cell.splitlines()[1:]
        )
        if cells is not None and not swallowed and (len(consumed) == 1 or len(cells) == width):
            yield first, cells, _too_many(cells, width)
            continue
        for offset, text in enumerate(list(consumed)):
            yield _one_line(first + offset, text, width)


def _one_line(line: int, text: str, width: int) -> tuple[int, list[str], str | None]:
    try:
        cells = next(csv.reader([text]), [])
    except csv.Error as exc:
        return line, [], str(exc)
    if any("\n" in cell or "\r" in cell for cell in cells):
        return line, cells, "a quoted field is never closed"
    return line, cells, _too_many(cells, width)


def _too_many(cells: list[str], width: int) -> str | None:
    return f"{len(cells)} fields where the header has {width}" if len(cells) > width else None
