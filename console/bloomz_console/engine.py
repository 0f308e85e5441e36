"""Every call the console makes into the sync engine (target_bloomz), in one place.

The console reads the same Bloomz store and calls the same admin functions as ``bloomz-sync``: the run
summaries, plans, approvals, undo, edits, family codes and explain. Keeping those imports here means a move
of the engine's modules changes this file only.

The store is a DuckDB file with one writer at a time: while an import writes it, it cannot be opened at
all. :func:`store` tries for a moment, then raises :class:`StoreBusy` with what the lock files say, and the
pages show "Sync in progress" instead of an error. Connections are opened per request and closed at once,
so the console never keeps an import from opening the store.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import duckdb
from target_bloomz import store as bloomz_store
from target_bloomz.control import edits, held_runs, undo
from target_bloomz.control.reinvite import queue_reinvitations
from target_bloomz.mapping import Mapping, MappingError, answers, load_mapping
from target_bloomz.outbox import DeliverySettings, deliver_pending, invitations
from target_bloomz.report import explain, family_codes, plan_rows, status
from target_bloomz.report.render import (
    OPTION_LABELS,
    STATUS_LABELS,
    RunSummary,
    render_family_code_letters,
    render_status_email,
    status_of,
)
from target_bloomz.report.rows import dicts as rows
from target_bloomz.runs import run_log
from target_bloomz.stage import staging
from target_bloomz.store import locks

__all__ = [
    "COMMUNITY_ROLES",
    "OPTION_LABELS",
    "STATUS_LABELS",
    "Mapping",
    "MappingError",
    "StoreBusy",
    "load_mapping",
    "status_of",
]

COMMUNITY_ROLES = edits.COMMUNITY_ROLES
STAFF_ROLES = edits.ROLES_OF_KIND["staff"]
# What an admin's action may refuse with: shown as the page's message, never as a traceback.
REFUSALS = (
    edits.EditError,
    held_runs.ApprovalError,
    undo.UndoError,
    locks.SyncInProgress,
    MappingError,
    LookupError,
)
BUSY_WAIT = 2.0  # seconds a page waits for the store before it says "Sync in progress"


class StoreBusy(RuntimeError):
    """An import has the store open; the message says which schools, when the lock files tell."""


def in_progress(database: Path) -> list[str]:
    """The imports holding a school now, from the lock files beside the store."""
    return locks.in_progress(database)


@contextmanager
def store(database: Path, *, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A connection for one request; None when there is no store yet (nothing imported)."""
    if not database.exists():
        yield None
        return
    deadline = time.monotonic() + BUSY_WAIT
    while True:
        try:
            con = bloomz_store.connect(database, read_only=not write)
            break
        except (bloomz_store.StoreError, duckdb.Error) as err:
            if not locks.is_store_busy(err):
                raise
            if time.monotonic() > deadline:
                raise StoreBusy(locks.busy_message(database)) from None
            time.sleep(0.2)
    try:
        yield con
    finally:
        con.close()


# -- runs ------------------------------------------------------------------------------------------------


def runs_of(con: duckdb.DuckDBPyConnection, key: str) -> list[dict[str, Any]]:
    """Every run of a community, newest first, with its counts (History, Last Import Status)."""
    found = rows(
        con,
        f"""SELECT id, {status.RUN_STATUS} AS status, status_reason, dry_run, started_at,
               finished_at, counts, error,
               (SELECT count(*) FILTER (severity = 'error') FROM run_issues i WHERE i.run_id = r.id
                  AND (coalesce(len(communities), 0) = 0 OR list_contains(communities, $key))) AS errors,
               (SELECT count(*) FILTER (severity = 'warning') FROM run_issues i WHERE i.run_id = r.id
                  AND (coalesce(len(communities), 0) = 0 OR list_contains(communities, $key))) AS warnings
           FROM runs r WHERE list_contains(scope, $key) ORDER BY id DESC""",
        {"key": key},
    )
    for run in found:
        _label(run)
    return found


def last_runs(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Each community's last import (not a preview), by community key, labelled (the home page)."""
    found = rows(
        con,
        f"""SELECT c.key, r.id, {status.RUN_STATUS} AS status, r.status_reason, r.started_at
           FROM communities c JOIN runs r ON r.id = (
               SELECT max(id) FROM runs WHERE list_contains(scope, c.key) AND NOT dry_run)""",
    )
    for run in found:
        _label(run)
    return {run["key"]: run for run in found}


def _label(run: dict[str, Any]) -> None:
    """The run's outcome and label as the status e-mail words them (a failed or incomplete run says why)."""
    run["outcome"], run["label"] = status_of(run["status"], run["status_reason"])


def summary(con: duckdb.DuckDBPyConnection, run_id: int, key: str) -> RunSummary:
    """The run as its Bulk Import Status e-mail tells it, for one community."""
    return status.run_summary(con, run_id, key)


def status_email(con: duckdb.DuckDBPyConnection, run_id: int, key: str) -> tuple[str, str]:
    """(subject, html) of the run's status e-mail: as it was sent when the outbox has it, else rendered."""
    sent = con.execute(
        """SELECT subject, body_html FROM outbox WHERE run_id = ? AND kind = 'import_status'
           AND contains(dedupe_key, ?) ORDER BY id LIMIT 1""",
        [run_id, key],
    ).fetchone()
    if sent and sent[1]:
        return sent[0], sent[1]
    email = render_status_email(summary(con, run_id, key))
    return email.subject, email.html


def issues(con: duckdb.DuckDBPyConnection, run_id: int, key: str, names: dict[str, str]) -> list[dict]:
    """The run's errors and warnings for one community, each with the people it names by source id."""
    found = status.community_issues(con, run_id, key)
    ids = {part for issue in found for part in (issue["record_key"] or "").split("/") if part}
    known = dict(names)
    if ids:
        for source_id, name in con.execute(
            """SELECT s.source_id, concat_ws(' ', coalesce(p.preferred_first_name, p.first_name), p.last_name)
               FROM person_sources s JOIN people p ON p.id = s.person_id
               WHERE s.source_id IN (SELECT unnest(?::VARCHAR[]))""",
            [sorted(ids)],
        ).fetchall():
            known[source_id] = name
    for issue in found:
        parts = (issue["record_key"] or "").split("/")
        issue["who"] = ", ".join(known[p] for p in parts if known.get(p))
    return found


PLAN_ENTITIES = ("community", "class", "person", "community_member", "class_member", "student_contact")
PLAN_ACTIONS = ("create", "update", "reactivate", "archive", "remove", "skip")


def plan(
    con: duckdb.DuckDBPyConnection, run_id: int, entity: str | None, action: str | None, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """The run's plan rows (filtered by entity and action), at most ``limit``, and how many matched."""
    found = plan_rows.plan_rows(con, run_id, entity=entity, action=action, limit=limit)
    return found, plan_rows.count_plan_rows(con, run_id, entity=entity, action=action)


def run_scope(con: duckdb.DuckDBPyConnection, run_id: int) -> list[str]:
    return status.run_communities(con, run_id)


def approve(con: duckdb.DuckDBPyConnection, database: Path, run_id: int) -> held_runs.Approved:
    """Apply a held run, as ``bloomz-sync approve`` does (meltano_state.py then moves Meltano's state)."""
    return held_runs.approve(con, database, run_id)


def discard(con: duckdb.DuckDBPyConnection, database: Path, run_id: int) -> str:
    return held_runs.discard(con, database, run_id)


def undo_run(con: duckdb.DuckDBPyConnection, run_id: int) -> str:
    return undo.undo(con, run_id).text()


def explain_person(con: duckdb.DuckDBPyConnection, who: str) -> str:
    return explain.explain(con, who)


# -- Manage ----------------------------------------------------------------------------------------------


def classes(con: duckdb.DuckDBPyConnection, key: str) -> list[dict[str, Any]]:
    return rows(
        con,
        """SELECT cl.id, cl.name, cl.status, cl.name_edited, cl.section_id,
               count(m.person_id) FILTER (m.role = 'student') AS students,
               count(m.person_id) FILTER (m.role = 'parent') AS parents,
               string_agg(concat_ws(' ', p.first_name, p.last_name)
                          || CASE WHEN m.origin = 'manual' THEN ' (added by hand)' ELSE '' END, ', '
                          ORDER BY p.last_name) FILTER (m.role IN ('teacher', 'aide')) AS teachers
           FROM classes cl JOIN communities c ON c.id = cl.community_id
           LEFT JOIN class_members m ON m.class_id = cl.id
           LEFT JOIN people p ON p.id = m.person_id
           WHERE c.key = ? GROUP BY cl.id, cl.name, cl.status, cl.name_edited, cl.section_id
           ORDER BY cl.status, lower(cl.name)""",
        [key],
    )


def members(con: duckdb.DuckDBPyConnection, key: str, kind: str) -> list[dict[str, Any]]:
    """The community's students, parents or staff, as the seed's Manage tabs list them."""
    return rows(
        con,
        """SELECT p.id, p.first_name, p.last_name, p.preferred_first_name, p.grade, p.title, p.email,
               p.phone, p.student_id, p.registered, p.family_code, m.role, m.role_set_by_hand,
               (SELECT string_agg(cl.name, ', ' ORDER BY cl.name) FROM class_members cm
                JOIN classes cl ON cl.id = cm.class_id
                WHERE cm.person_id = p.id AND cl.community_id = c.id) AS classes,
               (SELECT string_agg(concat_ws(' ', s.first_name, s.last_name), ', ') FROM student_contacts sc
                JOIN people s ON s.id = sc.student_id WHERE sc.contact_id = p.id) AS children
           FROM community_members m JOIN communities c ON c.id = m.community_id
           JOIN people p ON p.id = m.person_id
           WHERE c.key = ? AND p.kind = ? ORDER BY lower(p.last_name), lower(p.first_name), p.id""",
        [key, kind],
    )


def community_admins(con: duckdb.DuckDBPyConnection, key: str) -> list[dict[str, Any]]:
    """The community's members by role (for "Invite from" and "Notify to")."""
    return rows(
        con,
        """SELECT m.role, p.email, concat_ws(' ', p.first_name, p.last_name) AS name
           FROM community_members m JOIN communities c ON c.id = m.community_id
           JOIN people p ON p.id = m.person_id WHERE c.key = ? AND p.kind = 'staff' ORDER BY m.role, name""",
        [key],
    )


def edit(con: duckdb.DuckDBPyConnection, action: str, *args: str) -> str:
    """One edit as the Bloomz app makes it (control/edits.py): the sync respects it afterwards."""
    functions: dict[str, Callable[..., str]] = {
        "rename": edits.rename_class,
        "archive": edits.archive_class,
        "revive": edits.revive_class,
        "delete": edits.delete_class,
        "add-member": edits.add_member,
        "set-role": edits.set_role,
    }
    return functions[action](con, *args)


def family_code_letters(con: duckdb.DuckDBPyConnection, key: str, school: str, signup_url: str) -> str:
    """The printable letters (one page per student without an imported contact)."""
    letters = [family_codes.letter(student) for student in family_codes.of_community(con, key)]
    return render_family_code_letters(letters, school=school, signup_url=signup_url)


def reinvite(
    con: duckdb.DuckDBPyConnection, key: str, kinds: list[str], target_config: dict[str, Any]
) -> str:
    """Invite everyone of the community not yet registered, then deliver, as ``bloomz-sync reinvite``."""
    counts = queue_reinvitations(
        con,
        key,
        kinds,
        invite_from=target_config.get("invite_from"),
        signup_url=target_config.get("signup_url") or invitations.DEFAULT_SIGNUP_URL,
    )
    report = deliver_pending(con, DeliverySettings.from_config(target_config))
    return f"{counts.email} e-mails and {counts.sms} text messages queued. Outbox: {report}"


# -- the source's values for the option screens ----------------------------------------------------------


def stage_snapshot(spool_dir: Path, snapshot: Path) -> dict[str, int]:
    """Stage a tap's spooled records (one NDJSON file per stream) into a snapshot DuckDB file."""
    snapshot.unlink(missing_ok=True)
    with duckdb.connect(str(snapshot)) as con:
        received = staging.stage(con, spool_dir)
        for name in [*(f"stg_{s}" for s in received), "stg_rejects"]:
            con.execute(f"CREATE TABLE main.{name}_ AS SELECT * FROM temp.{name}")
            con.execute(f"DROP TABLE temp.{name}; ALTER TABLE main.{name}_ RENAME TO {name}")
    return received


def map_sections(con: duckdb.DuckDBPyConnection, mapping: Mapping, school_id: str, key: str) -> None:
    """``map_sections`` of the mapping for one school, on a snapshot (the engine's own rules and template)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE map_schools AS SELECT ? AS school_id, ? AS community_key, "
        "'' AS community_name",
        [school_id, key],
    )
    answers.map_sections(con, mapping)


def contact_values(
    con: duckdb.DuckDBPyConnection, mapping: Mapping
) -> list[tuple[str, str | None, int, bool]]:
    """(field, value, links, imported?) of both contact fields, over ``stg_student_contacts``."""
    return run_log.contact_field_values(con, mapping)


def options_of(mapping: Mapping) -> dict[str, Any]:
    return asdict(mapping.options)


def parse_json(text: str | None) -> Any:
    return json.loads(text) if text else None
