"""Refused and taken-over imports: a delta locks its schools too, a refusal leaves a trace admins see, and a
lock whose lease expired (another host) is taken over."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from target_bloomz.store.locks import lock_dir

from tests.support.district import district, query
from tests.support.store_queries import issues, run_row

OTHER = "target-bloomz (pid 4242 on sis-worker-2)"


def _foreign_lock(database: Path, scope: str, *, expires_in: timedelta) -> Path:
    """A lock file as an import on another host writes it (its pid cannot be checked from here)."""
    now = datetime.now(UTC)
    lock = {
        "holder": OTHER,
        "pid": 4242,
        "host": f"not-{socket.gethostname()}",
        "since": (now - timedelta(minutes=5)).isoformat(timespec="seconds"),
        "expires": (now + expires_in).isoformat(timespec="seconds"),
    }
    folder = lock_dir(database)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{quote(scope, safe='')}.lock"
    path.write_text(json.dumps(lock))
    return path


def _delta() -> dict:
    """A nightly delta with no school record: one student renamed."""
    student = district()["students"][0]
    return {"students": [{**student, "first_name": "Dee-Anne"}]}


def test_a_delta_without_schools_is_refused_while_its_school_is_locked(sync, database, tmp_path, cli):
    assert (
        sync(district(), notify_to=["School Support Staff"], outbox_dir=str(tmp_path / "out")).returncode == 0
    )
    held = _foreign_lock(database, "clever:sch1", expires_in=timedelta(hours=1))

    result = sync(
        _delta(), activate=False, outbox_dir=str(tmp_path / "out"), notify_to=["School Support Staff"]
    )

    assert result.returncode != 0
    assert f"sync in progress for clever:sch1: held by {OTHER} since 20" in result.stderr
    assert result.states == [], "a refused run emits no STATE"
    assert query(database, "SELECT first_name FROM people WHERE first_name LIKE 'Dee%'") == [("Dee",)]
    assert held.exists(), "the other import's lock is left alone"
    # The refusal is a run the admins see: in `runs`, in the school's status, and in its status e-mail.
    status, reason = run_row(database, 2)
    assert status == "refused"
    assert str(reason).startswith(f"sync in progress for clever:sch1: held by {OTHER}")
    assert "refused" in cli("runs").output.splitlines()[1]
    shown = cli("status").output
    assert "Refused" in shown
    assert f"held by {OTHER}" in shown
    mails = query(
        database,
        "SELECT recipient, subject FROM outbox WHERE run_id = 2 AND kind = 'import_status' ORDER BY 1",
    )
    assert mails, "the school's admins are told"
    assert all("Refused" in subject for _, subject in mails), mails


def test_a_delta_of_a_feed_the_store_never_saw_locks_the_mapping_schools_or_the_feed(
    sync, database, mapping_file
):
    sync(district())
    only_sch2 = mapping_file("communities: {schools: [sch2]}\n")
    _foreign_lock(database, "clever:sch2", expires_in=timedelta(hours=1))

    named = sync(_delta(), activate=False, mapping=str(only_sch2), feed="clever:new")

    assert named.returncode != 0
    assert "sync in progress for clever:sch2" in named.stderr
    _foreign_lock(database, "feed:clever:all-schools", expires_in=timedelta(hours=1))

    unnamed = sync(_delta(), activate=False, feed="clever:all-schools")  # mapping: all schools, no mirror

    assert unnamed.returncode != 0
    assert "sync in progress for feed:clever:all-schools" in unnamed.stderr


def test_a_lock_whose_lease_expired_on_another_host_is_taken_over(sync, database):
    sync(district())
    stale = _foreign_lock(database, "clever:sch1", expires_in=-timedelta(minutes=1))

    result = sync(_delta(), activate=False)

    assert result.returncode == 0, result.stderr
    assert f"took over the lock of clever:sch1 held by {OTHER}" in result.stderr
    assert "its lease expired at" in result.stderr
    assert any("its lease expired at" in line for line in issues(database, 2))
    assert query(database, "SELECT count(*) FROM people WHERE first_name = 'Dee-Anne'") == [(1,)]
    assert not stale.exists(), "the run released the lock it took over"
