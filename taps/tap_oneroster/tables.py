"""The run's OneRoster collections as DuckDB tables of one shape, whether they came over REST or as CSV.

Each collection is loaded once per run (and once more per delta filter) into a private DuckDB database:
one column per OneRoster field the tap reads (named as in REST JSON: GUIDRefs become their sourcedIds,
lists become lists), ``_vendor`` (every other field, as a JSON object, so a mapping template can still reach
it through ``extra``), ``_ord`` (the source's order), and ``_modified`` (``dateLastModified`` read as a
point in time). 1.2 roles, from ``roles.csv`` or from each user's ``roles[]``, are a table of their own.

Dates come in the formats real exports use: ISO 8601 with or without time, offset or milliseconds,
``2017-05-06 08:01:05``, and ``1/05/2023``. Whether a file writes the day or the month first is read from
the file itself (a first number over 12 is a day); a file that never says is read month first, as US
systems write, unless ``date_order`` says otherwise, and the log says so. A date that cannot be read is a
warning naming the row; the row is read without it. Passwords are never read.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb
import msgspec

from tap_oneroster import columns
from tap_oneroster.csv_source import FILES, CsvFile, CsvSource
from tap_oneroster.problems import Problem

logger = logging.getLogger("tap_oneroster.tables")

TEXT, REF, REFS, LIST, USER_IDS = "text", "ref", "refs", "list", "user_ids"
_SQL_TYPES = {
    TEXT: "VARCHAR",
    REF: "VARCHAR",
    REFS: "VARCHAR[]",
    LIST: "VARCHAR[]",
    USER_IDS: "STRUCT(type VARCHAR, identifier VARCHAR)[]",
}


@dataclass(frozen=True)
class Field:
    """A OneRoster field the tap reads: its REST name (the table's column), kind, and CSV header names."""

    name: str
    kind: str = TEXT
    csv: tuple[str, ...] = ()  # default: the REST name; older or vendor spellings after it

    @property
    def csv_names(self) -> tuple[str, ...]:
        return self.csv or (self.name,)


def _ref(name: str, *csv: str) -> Field:
    return Field(name, REF, csv or (f"{name}SourcedId",))


BASE = (Field("sourcedId"), Field("status"), Field("dateLastModified"))
FIELDS: dict[str, tuple[Field, ...]] = {
    "orgs": (*BASE, Field("name"), Field("type"), Field("identifier"), _ref("parent")),
    "academicSessions": (
        *BASE,
        *(Field("title"), Field("type"), Field("startDate"), Field("endDate"), Field("schoolYear")),
        _ref("parent"),
        _ref("org"),
    ),
    "courses": (
        *BASE,
        *(Field("title"), Field("courseCode"), _ref("org"), _ref("schoolYear")),
        *(Field("grades", LIST), Field("subjects", LIST), Field("subjectCodes", LIST)),
    ),
    "classes": (
        *BASE,
        *(Field("title"), Field("classCode"), Field("classType"), Field("location")),
        *(
            Field("grades", LIST),
            Field("subjects", LIST),
            Field("subjectCodes", LIST),
            Field("periods", LIST),
        ),
        *(_ref("course"), _ref("school"), Field("terms", REFS, ("termSourcedIds",))),
    ),
    "enrollments": (
        *BASE,
        *(_ref("class"), _ref("school"), _ref("user")),
        *(Field("role"), Field("primary"), Field("beginDate"), Field("endDate")),
    ),
    "users": (
        *BASE,
        *(Field("enabledUser"), Field("username"), Field("userIds", USER_IDS)),
        *(Field("givenName"), Field("familyName"), Field("middleName")),
        Field("preferredFirstName", TEXT, ("preferredGivenName", "preferredFirstName")),
        Field("preferredMiddleName"),
        Field("preferredLastName", TEXT, ("preferredFamilyName", "preferredLastName")),
        *(Field("identifier"), Field("email"), Field("sms"), Field("phone")),
        Field("agents", REFS, ("agentSourcedIds", "agents")),
        Field("grades", LIST, ("grades", "grade")),
        Field("role"),
        Field("orgs", REFS, ("orgSourcedIds",)),
        _ref("primaryOrg"),
        *(
            Field("userMasterIdentifier"),
            Field("pronouns"),
            Field("resources", REFS, ("resourceSourcedIds",)),
        ),
    ),
    "roles": (
        *BASE,
        *(_ref("user"), Field("roleType"), Field("role"), _ref("org")),
        *(Field("beginDate"), Field("endDate"), _ref("userProfile")),
    ),
    "userProfiles": (
        *BASE,
        *(_ref("user"), Field("profileType"), Field("vendorId"), Field("applicationId")),
        *(Field("description"), Field("credentialType"), Field("username")),
    ),
    "demographics": BASE,
}
# Never read from a file or kept from an answer: credentials are no business of a roster.
SECRETS = frozenset({"password"})
# Read into other columns or tables: 1.2 roles become the roles table.
_NOT_VENDOR = frozenset({"roles"})
# The date columns of each collection, besides dateLastModified: read as dates.
DATES = {"academicSessions": ("startDate", "endDate")}

_ISO = "TRY_CAST({t} AS TIMESTAMPTZ)"
_SLASHED = ("%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %I:%M:%S %p")


def _formats(day_first: bool) -> str:
    formats = [f.replace("%m/%d", "%d/%m") if day_first else f for f in _SLASHED]
    return "[" + ", ".join(f"'{f}'" for f in formats) + "]"


def moment_sql(text: str, day_first: bool) -> str:
    """SQL: a date or date-time text as TIMESTAMPTZ (UTC when it names no offset), NULL if unreadable."""
    return f"coalesce({_ISO.format(t=text)}, try_strptime({text}, {_formats(day_first)})::TIMESTAMPTZ)"


class Source(Protocol):
    """Where the objects come from: a CSV bundle, or a REST server through ``JsonSource``."""

    def is_complete(self, collection: str) -> bool: ...


class JsonSource(Protocol):
    def is_complete(self, collection: str) -> bool: ...

    def read(self, collection: str, since: str | None = None) -> Iterator[dict[str, Any]]: ...


class Collections:
    """The collections of one run, loaded on first use into a private DuckDB database."""

    def __init__(self, source: CsvSource | JsonSource, *, date_order: str = "auto", workdir: Path) -> None:
        self.workdir = workdir  # the tap's private spool folder (bloomz_sync/private.py)
        self.con = duckdb.connect()  # in memory, spilling to the folder beyond its limit
        self.con.execute("SET memory_limit = '512MB'")
        self.con.execute("SET enable_progress_bar = false")  # DuckDB would draw it on the Singer channel
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET preserve_insertion_order = true")
        self.con.execute(f"SET temp_directory = '{self.workdir / 'spill'}'")
        self.source = source
        self.date_order = date_order
        self.problems: list[Problem] = []
        # (stream, fields or None for the whole stream, why): what a CSV column the bundle lacks would feed
        self.not_provided: list[tuple[str, tuple[str, ...] | None, str]] = []
        self._columns_checked: set[str] = set()
        self._tables: dict[tuple[str, str | None], str] = {}
        self._files: dict[str, CsvFile] = {}  # each collection's file, for the line of a row
        self._names = itertools.count()

    def is_complete(self, collection: str) -> bool:
        return self.source.is_complete(collection)

    def table(self, collection: str, since: str | None = None) -> str:
        """The collection (only what changed after ``since``, when given) as a table; loaded on first use."""
        key = (collection, since)
        if key not in self._tables:
            self._tables[key] = self._load(collection, since)
        return self._tables[key]

    def has(self, collection: str) -> bool:
        """Whether the source carries the collection at all (1.2 roles and userProfiles only in bundles)."""
        if isinstance(self.source, CsvSource):
            return self.source.file_mode(collection) != "absent"
        return collection not in ("roles", "userProfiles")

    def explicit_roles(self) -> str:
        """1.2 roles (user, roleType, role, org, beginDate, endDate, _ord): a bundle's roles.csv, or the
        ``roles[]`` of each REST user; a role row the source deletes does not count."""
        if not isinstance(self.source, CsvSource):
            return f"{self.table('users')}_roles"
        columns = '"user", "roleType", role, org, "beginDate" AS beginDate, "endDate" AS endDate, _ord'
        if not self.has("roles"):
            nothing = ", ".join(f'NULL::VARCHAR AS "{c}"' for c in ("user", "roleType", "role", "org"))
            return f"(SELECT {nothing}, NULL AS beginDate, NULL AS endDate, 0 AS _ord WHERE false)"
        deleted = "coalesce(lower(trim(status)), '') IN ('tobedeleted', 'inactive')"
        return f"(SELECT {columns} FROM {self.table('roles')} WHERE NOT {deleted})"

    def roles(self) -> str:
        """Every user's roles (user, roleType, role, org, _ord): 1.2 roles, else a 1.1 user's role in each of
        its orgs."""
        if ("roles*", None) not in self._tables:
            users, explicit = self.table("users"), self.explicit_roles()
            table = f"t{next(self._names)}_all_roles"
            self.con.execute(
                f"""CREATE TABLE {table} AS
                    SELECT "user", "roleType", role, org, _ord FROM {explicit}
                    UNION ALL
                    SELECT "sourcedId", 'primary', role,
                        unnest(CASE WHEN len(orgs) > 0 THEN orgs ELSE [NULL] END),
                        1000000 * _ord + unnest(range(1, greatest(len(orgs), 1) + 1))
                    FROM {users}
                    WHERE role IS NOT NULL AND "sourcedId" NOT IN (SELECT "user" FROM {explicit})"""
            )
            self._tables[("roles*", None)] = table
        return self._tables[("roles*", None)]

    # -- loading

    def _load(self, collection: str, since: str | None) -> str:
        """One pass from the source's rows to the collection's table (fields, dates, order)."""
        table = f"t{next(self._names)}_{collection}"
        raw = f"{table}_raw"
        if isinstance(self.source, CsvSource):
            self._check_columns(collection)
            loaded = self.source.load(self.con, collection, raw, self.problems)
            if loaded is None:  # the bundle does not carry it: an empty table of the same shape
                self.con.execute(f"CREATE TABLE {raw} AS SELECT 0 AS _ord WHERE false")
            columns = dict(_csv_columns(collection, loaded))
            where = loaded.name if loaded else ""
            if loaded:
                self._files[collection] = loaded
        else:
            self._spool(collection, since, raw)
            columns = dict(_json_columns(collection))
            loaded, where = None, f"GET /{collection}"
        dates = ["dateLastModified", *DATES.get(collection, ())]
        day_first = self._day_first(raw, [columns[c] for c in dates], where)
        moments = {c: moment_sql(f"({columns[c]})", day_first) for c in dates}
        select = ", ".join(f'{expression} AS "{name}"' for name, expression in columns.items())
        read = ", ".join(f"strftime({moments[c]}, '%Y-%m-%d') AS \"_{c}\"" for c in dates[1:])
        self.con.execute(
            f"CREATE TABLE {table} AS SELECT {select}, {moments['dateLastModified']} AS _modified"
            f"{', ' + read if read else ''}, _ord FROM {raw}"
        )
        if collection == "users" and not isinstance(self.source, CsvSource):
            self._keep_json_roles(raw, f"{table}_roles")
        self.con.execute(f"DROP TABLE {raw}")
        self._leave_out_rows_without_id(collection, table, loaded, where)
        self._warn_unreadable_dates(collection, table, dates, loaded, where)
        if since is not None and isinstance(self.source, CsvSource):
            # A CSV delta holds what changed; rows of a bulk file (no date) always count.
            self.con.execute(
                f"DELETE FROM {table} WHERE _modified IS NOT NULL AND _modified <= "
                f"{moment_sql('$since', False)}",
                {"since": since},
            )
        return table

    def _check_columns(self, collection: str) -> None:
        """A file without a column OneRoster requires raises ``columns.MissingColumns`` (the streams built
        from it cannot be read); one without an optional column adds what it alone feeds to
        ``not_provided`` (a missing column is not a column of empty cells)."""
        assert isinstance(self.source, CsvSource)
        header = self.source.header(collection)
        if not header:
            return
        present = _present_columns(collection, header)
        columns.check_required(FILES[collection], present, has_roles_file=self.has("roles"))
        if collection not in self._columns_checked:
            self._columns_checked.add(collection)
            self.not_provided += columns.not_provided(FILES[collection], present)

    def _spool(self, collection: str, since: str | None, table: str) -> None:
        """A REST collection, read page by page, spooled as JSON lines and loaded (secrets dropped)."""
        assert not isinstance(self.source, CsvSource)
        spool = self.workdir / f"{table}.jsonl"
        encoder = msgspec.json.Encoder(decimal_format="number")  # the SDK parses numbers as Decimal
        with spool.open("wb") as out:
            for chunk in _chunks(self.source.read(collection, since), 5000):
                out.write(encoder.encode_lines([_without_secrets(obj) for obj in chunk]))
        path = str(spool).replace("'", "''")
        if spool.stat().st_size:
            source = f"read_json_objects('{path}', format = 'newline_delimited')"
        else:
            source = "(SELECT NULL::JSON AS json WHERE false)"
        self.con.execute(f"CREATE TABLE {table} AS SELECT json, row_number() OVER () AS _ord FROM {source}")
        spool.unlink()

    def _keep_json_roles(self, raw: str, table: str) -> None:
        self.con.execute(
            f"""CREATE TABLE {table} AS
                SELECT "user", nullif(trim(r ->> '$.roleType'), '') AS "roleType",
                    nullif(trim(r ->> '$.role'), '') AS "role",
                    nullif(trim(r ->> '$.org.sourcedId'), '') AS "org",
                    nullif(trim(r ->> '$.beginDate'), '') AS beginDate,
                    nullif(trim(r ->> '$.endDate'), '') AS endDate, _ord
                FROM (
                    SELECT json ->> '$.sourcedId' AS "user", unnest(json_extract(json, '$.roles[*]')) AS r,
                        1000000 * _ord + unnest(range(1, json_array_length(json, '$.roles')::BIGINT + 1))
                            AS _ord
                    FROM {raw} WHERE json_type(json, '$.roles') = 'ARRAY')"""
        )

    def _leave_out_rows_without_id(
        self, collection: str, table: str, loaded: CsvFile | None, where: str
    ) -> None:
        """A row with no sourcedId cannot be told apart from any other: reported and left out."""
        rows = self.con.execute(
            f'SELECT _ord FROM {table} WHERE "sourcedId" IS NULL ORDER BY _ord'
        ).fetchall()
        for (ordinal,) in rows:
            place = f"{where} line {loaded.line_of(ordinal)}" if loaded else where
            self.problems.append(Problem(collection, place, "the row has no sourcedId"))
        if rows:
            self.con.execute(f'DELETE FROM {table} WHERE "sourcedId" IS NULL')

    def place(self, collection: str, ordinal: int) -> str:
        """Where a row of a collection's (full) table came from: its file and line, or its request."""
        loaded = self._files.get(collection)
        return f"{loaded.name} line {loaded.line_of(ordinal)}" if loaded else f"GET /{collection}"

    def _warn_unreadable_dates(
        self, collection: str, table: str, dates: list[str], loaded: CsvFile | None, where: str
    ) -> None:
        """A warning naming each row with a date this tap cannot read (the row is read without it)."""
        for column in dates:
            parsed = "_modified" if column == "dateLastModified" else f'"_{column}"'
            unreadable = self.con.execute(
                f'SELECT _ord, "sourcedId", "{column}" FROM {table} '
                f'WHERE "{column}" IS NOT NULL AND {parsed} IS NULL ORDER BY _ord'
            ).fetchall()
            for ordinal, sourced_id, value in unreadable:
                place = f"{where} line {loaded.line_of(ordinal)}" if loaded else where
                reason = f"{column} {value!r} is not a date this tap can read; the row is read without it"
                self.problems.append(Problem(collection, place, reason, sourced_id, "warning"))

    def _day_first(self, table: str, texts: Iterable[str], where: str) -> bool:
        """Whether the file writes slashed dates day first: from its own dates (``texts``: SQL of each date
        column over ``table``), else from ``date_order``."""
        values = " UNION ALL ".join(f"SELECT {text} AS v FROM {table}" for text in texts)
        row = self.con.execute(
            f"""SELECT bool_or(TRY_CAST(split_part(v, '/', 1) AS INT) > 12),
                       bool_or(TRY_CAST(split_part(v, '/', 2) AS INT) > 12), count(*)
                FROM ({values}) WHERE regexp_matches(v, '^\\d{{1,2}}/\\d{{1,2}}/\\d{{4}}')"""
        ).fetchone()
        day_over_12, month_over_12, slashed = (
            (bool(row[0]), bool(row[1]), int(row[2])) if row else (False, False, 0)
        )
        if self.date_order != "auto":
            return self.date_order == "day_first"
        if day_over_12 != month_over_12:
            return day_over_12
        if slashed:
            logger.warning(
                "%s: dates such as 1/05/2023 could be day or month first, and none says which; "
                "read month first (set date_order: day_first to change it)",
                where,
            )
        return False


def _chunks(objects: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(objects)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _without_secrets(value: Any) -> Any:
    """A REST object without its passwords (1.1 users carry one; 1.2 userProfiles' credentials too)."""
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items() if k not in SECRETS}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


def _text_sql(cell: str) -> str:
    return f"nullif(trim({cell}), '')"


def _split_sql(cell: str) -> str:
    """A multi-value cell ("a,b,c") as its values."""
    return (
        f"coalesce(list_filter(list_transform(string_split({cell}, ','), lambda x: trim(x)), "
        "lambda x: x <> ''), [])"
    )


def _user_ids_sql(cell: str) -> str:
    """A ``{type:identifier},{type:identifier}`` cell as a list of structs."""
    pattern = r"'\{([^:{}]*):([^{}]*)\}'"
    return (
        f"list_transform(list_zip(regexp_extract_all(coalesce({cell}, ''), {pattern}, 1), "
        f"regexp_extract_all(coalesce({cell}, ''), {pattern}, 2)), "
        "lambda p: {'type': trim(p[1]), 'identifier': trim(p[2])})"
    )


def _csv_columns(collection: str, loaded: CsvFile | None) -> list[tuple[str, str]]:
    """(column, SQL over the raw table's ``c<i>``) for each field, and ``_vendor``."""
    header = [h.lower() for h in loaded.header] if loaded else []
    used: set[int] = set()
    columns = []
    for f in FIELDS[collection]:
        index = next((header.index(n.lower()) for n in f.csv_names if n.lower() in header), None)
        if index is None:  # an optional column the file leaves out: no value (an empty list)
            columns.append((f.name, "[]" if f.kind in (LIST, REFS) else f"NULL::{_SQL_TYPES[f.kind]}"))
            continue
        used.add(index)
        cell = f"c{index}"
        sql = {LIST: _split_sql, REFS: _split_sql, USER_IDS: _user_ids_sql}.get(f.kind, _text_sql)(cell)
        columns.append((f.name, sql))
    vendor = [
        (name, i)
        for i, name in enumerate(loaded.header if loaded else [])
        if name and i not in used and name.lower() not in SECRETS and header.index(name.lower()) == i
    ]
    pairs = ", ".join(f"'{_quote(name)}', {_text_sql(f'c{i}')}" for name, i in vendor)
    columns.append(("_vendor", f"json_merge_patch('{{}}', json_object({pairs}))" if vendor else "'{}'::JSON"))
    return columns


def _present_columns(collection: str, header: list[str]) -> list[str]:
    """The header's names, and every spelling of each field the header has in any spelling or case
    (OneRoster 1.0's ``agents`` is ``agentSourcedIds``)."""
    lowered = {name.lower() for name in header}
    present = dict.fromkeys(header)
    for f in FIELDS[collection]:
        if any(name.lower() in lowered for name in f.csv_names):
            present.update(dict.fromkeys(f.csv_names))
    return list(present)


def _quote(text: str) -> str:
    return text.replace("'", "''")


def _json_columns(collection: str) -> list[tuple[str, str]]:
    """(column, SQL over a REST object ``json``) for each field, and ``_vendor``."""
    columns = []
    for f in FIELDS[collection]:
        path = f'$."{f.name}"'
        if f.kind == TEXT:
            sql = f"nullif(trim(json ->> '{path}'), '')"
        elif f.kind == REF:
            sql = f"nullif(trim(json ->> '{path}.sourcedId'), '')"
        elif f.kind == REFS:
            sql = (
                f"coalesce(list_filter(json_extract_string(json, '{path}[*].sourcedId'), "
                "lambda x: coalesce(x, '') <> ''), [])"
            )
        elif f.kind == LIST:
            sql = (
                f"CASE json_type(json, '{path}') "
                f"WHEN 'ARRAY' THEN list_filter(json_extract_string(json, '{path}[*]'), "
                "lambda x: coalesce(trim(x), '') <> '') "
                f"WHEN 'VARCHAR' THEN {_split_sql(f'(json ->> {chr(39)}{path}{chr(39)})')} ELSE [] END"
            )
        else:
            sql = (
                f"CASE WHEN json_type(json, '{path}') = 'ARRAY' THEN from_json(json -> '{path}', "
                """'[{"type": "VARCHAR", "identifier": "VARCHAR"}]') END"""
            )
        columns.append((f.name, sql))
    known = {f.name for f in FIELDS[collection]} | SECRETS | _NOT_VENDOR
    patch = msgspec.json.encode(dict.fromkeys(sorted(known))).decode()
    columns.append(("_vendor", f"json_merge_patch(json, '{_quote(patch)}')"))
    return columns
