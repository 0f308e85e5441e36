"""The Bloomz store: an embedded DuckDB file holding communities, classes, people and import runs.

The DDL covers the whole model of the product brief (re-sync rules, held runs, undo, locks, outbox) so
later issues add behaviour, not migrations. ``connect`` creates a new store or upgrades an older one in
place; each upgrade step is one function in ``_UPGRADES`` run inside a transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from plugin_runtime import private
from plugin_runtime.failures import Failure
from target_bloomz.store import mirror_tables

SCHEMA_VERSION = 10

_DDL_V1 = """
CREATE TABLE store_meta (key VARCHAR PRIMARY KEY, value VARCHAR);

CREATE TABLE communities (
    id BIGINT PRIMARY KEY,
    key VARCHAR NOT NULL UNIQUE,      -- stable community key, e.g. 'clever:<school id>'
    name VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    created_run BIGINT,
    updated_run BIGINT
);
-- The source schools a community is fed from (one community may gather several schools).
CREATE TABLE community_sources (
    community_id BIGINT NOT NULL,
    source VARCHAR NOT NULL,
    school_id VARCHAR NOT NULL,
    PRIMARY KEY (source, school_id)
);

CREATE TABLE classes (
    id BIGINT PRIMARY KEY,
    community_id BIGINT NOT NULL,
    source VARCHAR,                   -- NULL for a class made by hand in Bloomz
    section_id VARCHAR,
    name VARCHAR NOT NULL,
    name_edited BOOLEAN NOT NULL DEFAULT false,   -- renamed by hand: the sync keeps the name
    status VARCHAR NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    archived_at TIMESTAMP,
    created_run BIGINT,
    updated_run BIGINT
);
-- A class deleted in Bloomz is a removed row: the next sync re-creates it from its section.

CREATE TABLE people (
    id BIGINT PRIMARY KEY,
    kind VARCHAR NOT NULL CHECK (kind IN ('student', 'parent', 'staff')),
    first_name VARCHAR,
    middle_name VARCHAR,
    last_name VARCHAR,
    preferred_first_name VARCHAR,
    grade VARCHAR,
    title VARCHAR,
    email VARCHAR,                    -- trimmed, lower case
    phone VARCHAR,                    -- E.164 when the number could be normalised
    student_id VARCHAR,               -- the value of the mapping's students.id_field
    student_id_field VARCHAR,
    registered BOOLEAN NOT NULL DEFAULT false,
    registered_at TIMESTAMP,
    family_code VARCHAR,
    created_run BIGINT,
    updated_run BIGINT
);
-- Identity is the source link. Several source ids may point to one person (Clever contact-id churn).
CREATE TABLE person_sources (
    source VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    source_id VARCHAR NOT NULL,
    person_id BIGINT NOT NULL,
    sis_id VARCHAR,
    first_seen_run BIGINT,
    PRIMARY KEY (source, kind, source_id)
);

CREATE TABLE community_members (
    community_id BIGINT NOT NULL,
    person_id BIGINT NOT NULL,
    role VARCHAR NOT NULL,            -- Student, Parent, School Support Staff, School Admin, ...
    role_set_by_hand BOOLEAN NOT NULL DEFAULT false,
    origin VARCHAR NOT NULL DEFAULT 'sync' CHECK (origin IN ('sync', 'manual')),
    created_run BIGINT,
    updated_run BIGINT,
    PRIMARY KEY (community_id, person_id)
);

CREATE TABLE class_members (
    class_id BIGINT NOT NULL,
    person_id BIGINT NOT NULL,
    role VARCHAR NOT NULL,            -- student, teacher, aide, parent
    origin VARCHAR NOT NULL DEFAULT 'sync' CHECK (origin IN ('sync', 'manual')),
    created_run BIGINT,
    updated_run BIGINT,
    PRIMARY KEY (class_id, person_id)
);

CREATE TABLE student_contacts (
    student_id BIGINT NOT NULL,       -- people.id of the student
    contact_id BIGINT NOT NULL,       -- people.id of the parent
    relationship VARCHAR,
    type VARCHAR,
    created_run BIGINT,
    updated_run BIGINT,
    PRIMARY KEY (student_id, contact_id)
);

CREATE TABLE runs (
    id BIGINT PRIMARY KEY,
    source VARCHAR NOT NULL,
    scope VARCHAR[],                  -- community keys the run covers
    school_ids VARCHAR[],             -- source school ids the run covers
    mapping_file VARCHAR,
    options JSON,
    dry_run BOOLEAN NOT NULL DEFAULT false,
    status VARCHAR NOT NULL
        CHECK (status IN ('planned', 'dry_run', 'applied', 'held', 'discarded', 'failed', 'undone')),
    status_reason VARCHAR,
    complete_streams VARCHAR[],       -- complete in the feed's mirror (stage/mirror.py): only these remove
    record_counts JSON,               -- records received per stream
    counts JSON,                      -- plan rows per entity and action
    singer_state JSON,                -- the STATE this run holds back until it is applied
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);

CREATE TABLE plan_rows (
    run_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    -- community, class, person, community_member, class_member, student_contact
    entity VARCHAR NOT NULL,
    action VARCHAR NOT NULL
        CHECK (action IN ('create', 'update', 'archive', 'remove', 'reactivate', 'skip')),
    target_id BIGINT,                 -- id in the store when the entity exists already
    target VARCHAR,                   -- readable: community key, class name, person kind and source id
    source_stream VARCHAR,
    source_id VARCHAR,                -- the source record that caused the row
    rule VARCHAR,                     -- the mapping rule or import rule that decided
    reason VARCHAR,
    before JSON,
    after JSON,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE run_issues (
    run_id BIGINT NOT NULL,
    severity VARCHAR NOT NULL CHECK (severity IN ('error', 'warning')),
    stream VARCHAR,
    record_key VARCHAR,
    message VARCHAR NOT NULL
);

-- What apply changed, row by row, so a run can be undone.
CREATE TABLE journal (
    run_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    table_name VARCHAR NOT NULL,
    op VARCHAR NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    row_key JSON NOT NULL,
    before JSON,
    after JSON
);

-- One import per school community at a time; a lock past `expires` may be taken over.
CREATE TABLE locks (
    scope VARCHAR PRIMARY KEY,
    holder VARCHAR NOT NULL,
    since TIMESTAMP NOT NULL,
    expires TIMESTAMP NOT NULL
);

CREATE TABLE outbox (
    id BIGINT PRIMARY KEY,
    run_id BIGINT,
    kind VARCHAR NOT NULL,            -- invitation, import_status, ...
    channel VARCHAR NOT NULL CHECK (channel IN ('email', 'sms')),
    recipient VARCHAR NOT NULL,
    person_id BIGINT,
    subject VARCHAR,
    body_text VARCHAR,
    body_html VARCHAR,
    dedupe_key VARCHAR NOT NULL UNIQUE,
    status VARCHAR NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    sent_at TIMESTAMP,
    error VARCHAR
);
"""


def _upgrade_to_1(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_DDL_V1)


def _upgrade_to_2(con: duckdb.DuckDBPyConnection) -> None:
    # Version 2 remembers the source section's own name, so a template change is told apart from a
    # rename by hand, and the run's target settings for the status page.
    con.execute("ALTER TABLE classes ADD COLUMN section_name VARCHAR")
    con.execute("ALTER TABLE runs ADD COLUMN error VARCHAR")


def _upgrade_to_3(con: duckdb.DuckDBPyConnection) -> None:
    # Version 3 (re-sync, issue 7): a run remembers the store's change counter it planned against, so
    # `approve` knows when to re-plan. (Import locks are files beside the store: store/locks.py says why.)
    con.execute("ALTER TABLE runs ADD COLUMN planned_at_change BIGINT")
    con.execute("INSERT OR REPLACE INTO store_meta VALUES ('change_counter', '0')")


def _upgrade_to_5(con: duckdb.DuckDBPyConnection) -> None:
    # Version 5 (undo gaps): a run keeps the target settings its approval needs, not only its options.
    con.execute("ALTER TABLE runs ADD COLUMN signup_url VARCHAR")


def _upgrade_to_6(con: duckdb.DuckDBPyConnection) -> None:
    # Version 6 (issue 8): an issue names the school communities its record belongs to (plan/issue_scope.py),
    # so each school's status lists only its own; NULL or empty is run-level, and so is every older issue.
    con.execute("ALTER TABLE run_issues ADD COLUMN communities VARCHAR[]")


_RUNS_V7 = """
CREATE TABLE runs_v7 (
    id BIGINT PRIMARY KEY,
    source VARCHAR NOT NULL,
    scope VARCHAR[],
    school_ids VARCHAR[],
    mapping_file VARCHAR,
    options JSON,
    dry_run BOOLEAN NOT NULL DEFAULT false,
    status VARCHAR NOT NULL CHECK (status IN (
        'planned', 'dry_run', 'applied', 'held', 'discarded', 'failed', 'undone', 'refused')),
    status_reason VARCHAR,
    complete_streams VARCHAR[],       -- complete in the feed's mirror (stage/mirror.py): only these remove
    record_counts JSON,
    counts JSON,
    singer_state JSON,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    error VARCHAR,
    planned_at_change BIGINT,
    signup_url VARCHAR,
    pulled_complete VARCHAR[]         -- closed by ACTIVATE_VERSION in this run's own input
)
"""


def _upgrade_to_7(con: duckdb.DuckDBPyConnection) -> None:
    # Version 7 (re-sync audit): a refused run is recorded (status 'refused'), a run keeps which streams
    # it pulled complete itself, and a member removed from a synced class by hand stays removed.
    # DuckDB cannot alter a CHECK constraint: the runs table is rebuilt.
    con.execute(_RUNS_V7)
    con.execute("INSERT INTO runs_v7 BY NAME SELECT * FROM runs")
    con.execute("DROP TABLE runs")
    con.execute("ALTER TABLE runs_v7 RENAME TO runs")
    con.execute(
        """CREATE TABLE class_member_tombstones (
               class_id BIGINT NOT NULL,
               person_id BIGINT NOT NULL,
               removed_at TIMESTAMP NOT NULL,
               PRIMARY KEY (class_id, person_id))"""
    )


def _upgrade_to_8(con: duckdb.DuckDBPyConnection) -> None:
    # Version 8 (issue 20): a run keeps its pull (source, district, whether it finished:
    # guard/pull_verdict.py); which source and district fill each feed and community, so another's pull is
    # refused (guard/source_identity.py).
    con.execute("ALTER TABLE runs ADD COLUMN pull JSON")
    con.execute("ALTER TABLE runs ADD COLUMN pull_complete BOOLEAN")  # NULL: a run from before version 8
    con.execute("ALTER TABLE communities ADD COLUMN tenant VARCHAR")
    con.execute(
        """CREATE TABLE feeds (
               feed VARCHAR PRIMARY KEY,
               source VARCHAR NOT NULL,
               tenant VARCHAR,                -- the district the pulls come from (NULL: not said)
               tap VARCHAR,
               first_run BIGINT,
               last_run BIGINT)"""
    )


def _upgrade_to_9(con: duckdb.DuckDBPyConnection) -> None:
    # Version 9 (issue 19): the journal keeps the hash of each row a run left (apply/journal.py), not a JSON
    # copy of it; older journal rows keep their ``after`` images, which undo still compares.
    con.execute("ALTER TABLE journal ADD COLUMN after_hash UBIGINT")


def _upgrade_to_10(con: duckdb.DuckDBPyConnection) -> None:
    # Version 10 (issue 18): a school record says whether it is a school or a department, and its parent org.
    mirror_tables.rebuild_table(con, "schools")


_UPGRADES: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {
    1: _upgrade_to_1,
    2: _upgrade_to_2,
    3: _upgrade_to_3,
    4: mirror_tables.create_tables,  # version 4: the source mirror (stage/mirror.py)
    5: _upgrade_to_5,
    6: _upgrade_to_6,
    7: _upgrade_to_7,
    8: _upgrade_to_8,
    9: _upgrade_to_9,
    10: _upgrade_to_10,
}


class StoreError(Failure, RuntimeError):
    """The store cannot be opened or upgraded."""


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The store's schema version (0 for an empty file)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'store_meta'"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def upgrade(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the store to SCHEMA_VERSION, one step per transaction; return the version it had."""
    found = schema_version(con)
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"the store has schema version {found}, newer than this bloomz-sync ({SCHEMA_VERSION}): "
            "upgrade bloomz-sync"
        )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        con.execute("BEGIN TRANSACTION")
        _UPGRADES[version](con)
        con.execute("INSERT OR REPLACE INTO store_meta VALUES ('schema_version', ?)", [str(version)])
        con.execute("COMMIT")
    return found


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store at ``path``, creating or upgrading it unless ``read_only``."""
    path = Path(path)
    if read_only:
        if not path.exists():
            raise StoreError(f"no Bloomz store at {path} (run an import first, or pass --database)")
        con = _quiet(duckdb.connect(str(path), read_only=True))
        found = schema_version(con)
        if found != SCHEMA_VERSION:
            con.close()
            raise StoreError(
                f"the store {path} has schema version {found}; "
                f"open it once with target-bloomz to upgrade it to {SCHEMA_VERSION}"
            )
        return con
    path.parent.mkdir(mode=private.FOLDER_MODE, parents=True, exist_ok=True)
    try:
        con = _quiet(duckdb.connect(str(path)))
    except duckdb.IOException as err:
        raise StoreError(f"cannot open the Bloomz store {path}: {err}") from err
    # The store holds children's names and phones: the owner's alone, a store an older version made too.
    for own in (path, path.with_name(path.name + ".wal")):
        private.protect(own)
    upgrade(con)
    return con


def bump_change_counter(con: duckdb.DuckDBPyConnection) -> None:
    """Bump the store's change counter (an applied run, an edit, an undo).

    A held run planned against an older counter is re-planned before it is approved.
    """
    con.execute(
        "UPDATE store_meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) "
        "WHERE key = 'change_counter'"
    )


def change_counter(con: duckdb.DuckDBPyConnection) -> int:
    """The store's change counter."""
    row = con.execute("SELECT value FROM store_meta WHERE key = 'change_counter'").fetchone()
    return int(row[0]) if row else 0


@contextmanager
def reader(path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The store opened read-only for as long as the block reads it (status, export, the console)."""
    con = connect(path, read_only=True)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def in_insertion_order(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Statements inside keep insertion order: a sorted SELECT goes into a table in its order (its rowids
    follow the sort), and ``row_number() OVER ()`` numbers the rows in that order without holding them (a
    numbering window with ORDER BY holds every whole row in memory)."""
    row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    kept = bool(row and row[0])
    con.execute("SET preserve_insertion_order = true")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {str(kept).lower()}")


def _quiet(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """No progress bar: DuckDB draws it on standard output, which is the Singer channel (and an export's)."""
    con.execute("SET enable_progress_bar = false")
    return con
