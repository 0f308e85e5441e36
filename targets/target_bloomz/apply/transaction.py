"""Apply: execute a run's plan (the p_* tables of the plan step) against the store in ONE transaction.

Either every change of the run lands, with its journal and the run marked applied, or nothing does.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable

import duckdb

from target_bloomz import store
from target_bloomz.apply import contact_checks, journal, mirror_commit, removals

# Tests only: seconds to wait inside the transaction, after every write and before COMMIT, so a test can
# kill the process mid-apply (tests/e2e/runs/test_locks_and_kills.py), or resume it early with SIGUSR1 once
# it has done what it needed meanwhile. Never set in production.
PAUSE_ENV = "TARGET_BLOOMZ_TEST_PAUSE_IN_APPLY"

_STATEMENTS = [
    # communities and the schools that feed them
    """INSERT INTO communities (id, key, name, source, created_run, updated_run)
       SELECT community_id, key, name, $source, $run, $run FROM p_communities WHERE action = 'create'""",
    """UPDATE communities c SET name = p.name, updated_run = $run
       FROM p_communities p
       WHERE p.action = 'update' AND c.id = p.community_id AND c.name IS DISTINCT FROM p.name""",
    """INSERT INTO community_sources (community_id, source, school_id)
       SELECT p.community_id, $source, p.school_id FROM p_community_sources p
       WHERE NOT EXISTS (
           SELECT 1 FROM community_sources cs WHERE cs.source = $source AND cs.school_id = p.school_id)""",
    # classes
    """INSERT INTO classes
           (id, community_id, source, section_id, name, section_name, created_run, updated_run)
       SELECT class_id, community_id, $source, section_id, name, section_name, $run, $run
       FROM p_classes WHERE action = 'create'""",
    """UPDATE classes c
       SET name = p.name, section_name = p.section_name, status = 'active', archived_at = NULL,
           updated_run = $run
       FROM p_classes p WHERE p.action IN ('update', 'reactivate') AND c.id = p.class_id""",
    # people and their source links
    """INSERT INTO people (id, kind, first_name, middle_name, last_name, preferred_first_name, grade,
           title, email, phone, student_id, student_id_field, created_run, updated_run)
       SELECT person_id, kind, first_name, middle_name, last_name, preferred_first_name, grade,
           title, email, phone, student_id, student_id_field, $run, $run
       FROM p_people WHERE action = 'create'""",
    """UPDATE people p
       SET first_name = w.first_name, middle_name = w.middle_name, last_name = w.last_name,
           preferred_first_name = w.preferred_first_name, grade = w.grade, title = w.title,
           email = w.email, phone = w.phone, student_id = w.student_id,
           student_id_field = w.student_id_field, updated_run = $run
       FROM p_people w WHERE w.action = 'update' AND p.id = w.person_id""",
    """INSERT INTO person_sources (source, kind, source_id, person_id, sis_id, first_seen_run)
       SELECT $source, kind, source_id, person_id, sis_id, $run FROM p_people WHERE action = 'create'""",
    # a churned Clever contact id matched to an existing parent (plan/churned_contacts.py): the new id
    # becomes another source link of the matched person
    """INSERT INTO person_sources (source, kind, source_id, person_id, sis_id, first_seen_run)
       SELECT $source, 'parent', source_id, person_id, NULL, $run FROM p_contact_matches""",
    # memberships
    """INSERT INTO community_members (community_id, person_id, role, created_run, updated_run)
       SELECT community_id, person_id, role, $run, $run FROM p_community_members WHERE action = 'create'""",
    """UPDATE community_members m SET role = p.role, updated_run = $run
       FROM p_community_members p
       WHERE p.action = 'update' AND m.community_id = p.community_id AND m.person_id = p.person_id""",
    """INSERT INTO class_members (class_id, person_id, role, created_run, updated_run)
       SELECT class_id, person_id, role, $run, $run FROM p_class_members WHERE action = 'create'""",
    """UPDATE class_members m SET role = p.role, updated_run = $run
       FROM p_class_members p
       WHERE p.action = 'update' AND m.class_id = p.class_id AND m.person_id = p.person_id""",
    """INSERT INTO student_contacts (student_id, contact_id, relationship, type, created_run, updated_run)
       SELECT student_person_id, contact_person_id, relationship, type, $run, $run
       FROM p_student_contacts WHERE action = 'create'""",
    """UPDATE student_contacts s SET relationship = p.relationship, type = p.type, updated_run = $run
       FROM p_student_contacts p
       WHERE p.action = 'update' AND s.student_id = p.student_person_id
         AND s.contact_id = p.contact_person_id""",
    """UPDATE runs SET status = 'applied', finished_at = now() WHERE id = $run""",
]


def apply(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    source: str,
    *,
    before_commit: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    still_ours: Callable[[], None] | None = None,
) -> None:
    """Write the whole plan of ``run_id`` in one transaction; on any error nothing is written.

    ``before_commit`` runs inside the transaction after the plan is written (invitations and family
    codes are queued there, so they land exactly when the run does). ``still_ours`` runs last, just
    before COMMIT, and raises when the run's school locks were taken over (locks.Held.check).
    """
    con.execute("BEGIN TRANSACTION")
    try:
        touched = journal.snapshot(con, source)  # re-sync (issue 7): the rows before, for undo
        for sql in _STATEMENTS:
            params = {"run": run_id, "source": source}
            con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})
        removals.apply_removals(con, run_id)  # re-sync (issue 7): Full Data, Archive, scheduled import
        mirror_commit.commit(con, run_id)  # source mirror: lands exactly when the run does
        contact_checks.save_contact_checks(con)  # checked once per store, kept only with an applied run
        if before_commit is not None:
            before_commit(con)
        journal.record(con, run_id, touched)  # after every write of the run: undo compares with it
        store.bump_change_counter(con)
        if os.environ.get(PAUSE_ENV):  # re-sync tests only (see PAUSE_ENV)
            _pause(run_id, float(os.environ[PAUSE_ENV]))
        if still_ours is not None:
            still_ours()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _pause(run_id: int, seconds: float) -> None:
    """Say so and wait ``seconds``, or until the process gets SIGUSR1 (PAUSE_ENV)."""
    resume = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: resume.set())  # before saying so: a test may answer at once
    print(f"apply: paused before COMMIT of run {run_id}", file=sys.stderr, flush=True)
    resume.wait(seconds)
