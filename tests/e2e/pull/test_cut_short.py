"""A pull cut short is never applied and never "Completed": the real taps piped into target-bloomz.

Each test breaks the tap a different way (SIGKILL half-way, a token that stops working, a 503 or cut bodies
past the retries) and checks what an admin would: the store (``bloomz-sync export``), the run's status,
the status e-mail, the exit codes, and that no STATE reached Meltano.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from roster_sandbox.testing import Sandbox

from tests.support.district import query
from tests.support.pipes import clever_config, exported, fired, oneroster_config, pipe, status_emails

FAILED = "Failed: the source stopped before the pull was complete"


@pytest.fixture
def faults(sandbox: Sandbox):
    yield sandbox.set_faults
    sandbox.clear_faults()


def _target(database: Path, mapping: Path, outbox: Path, **options) -> dict:
    return {
        "database": str(database),
        "mapping": str(mapping),
        "full_data": True,
        "notify_to": ["School Support Staff"],  # staff with an e-mail get the status e-mail
        "outbox_dir": str(outbox),
        **options,
    }


def test_a_tap_killed_half_way_changes_nothing_and_every_channel_says_so(
    sandbox: Sandbox, store_copy: Callable[[], Path], open_mapping: Path, faults, tmp_path: Path
) -> None:
    database = store_copy()
    before = exported(database)
    # Sections are served slowly: the tap has written its contacts, and waits for sections (enrollments).
    faults({"kind": "slow", "path": "/v3.0/sections", "delay": 60, "count": None})

    run = pipe(
        "tap-clever",
        clever_config(sandbox),
        _target(database, open_mapping, tmp_path / "outbox"),
        tmp_path,
        kill_when=lambda: fired(sandbox) > 0,
    )

    assert run.tap_returncode == -9
    assert run.returncode == 1, run.stderr[-3000:]
    assert run.states == [], "Meltano's state does not move"
    assert exported(database) == before
    reason = (
        "the source stopped before the pull was complete (tap-clever did not finish: cut short in "
        "enrollments after 0 records; schools, terms, sections, students, staff, student_contacts never "
        "came); nothing was changed"
    )
    assert f"Run 2 failed: {reason}." in run.stderr
    assert query(database, "SELECT status, status_reason, pull_complete FROM runs WHERE id = 2") == [
        ("failed", reason, False)
    ]
    assert not query(database, "SELECT * FROM plan_rows WHERE run_id = 2")
    emails = status_emails(tmp_path / "outbox")
    assert emails, "the admins are told"
    for subject, text in emails:
        assert subject.startswith("Bulk Import Status: ")
        assert ": Failed" in subject
        assert f"Status: {FAILED} (tap-clever did not finish" in text
        assert "nothing was changed" in text


def test_a_token_that_stops_working_fails_the_run_with_the_tap_s_reason_and_a_rerun_completes(
    sandbox: Sandbox, store_copy: Callable[[], Path], open_mapping: Path, faults, tmp_path: Path
) -> None:
    database = store_copy()
    before = exported(database)
    faults({"kind": "status", "status": 401, "path": "/v3.0/users", "after": 1, "count": None})

    run = pipe(
        "tap-clever", clever_config(sandbox), _target(database, open_mapping, tmp_path / "out"), tmp_path
    )

    assert run.tap_returncode == 1
    assert run.returncode == 1, run.stderr[-3000:]
    assert run.states == []
    assert exported(database) == before
    (reason,) = query(database, "SELECT status_reason FROM runs WHERE id = 2")[0]
    assert reason.startswith(
        "the source stopped before the pull was complete (tap-clever stopped: Clever refused the district "
        "token (HTTP 401) at /v3.0/users."
    )
    assert reason.endswith("never came); nothing was changed")

    sandbox.clear_faults()
    again = pipe(
        "tap-clever", clever_config(sandbox), _target(database, open_mapping, tmp_path / "out"), tmp_path
    )

    assert again.returncode == 0, again.stderr[-3000:]
    assert again.states, "a complete pull moves Meltano's state"
    assert query(database, "SELECT status, pull_complete FROM runs WHERE id = 3") == [("applied", True)]
    assert exported(database) == before, "the same district: nothing to change"


@pytest.fixture(scope="module")
def oneroster_baseline(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the district's first import through tap-oneroster (the OneRoster default mapping)."""
    folder = tmp_path_factory.mktemp("oneroster")
    run = pipe(
        "tap-oneroster", oneroster_config(sandbox), {"database": str(folder / "bloomz.duckdb")}, folder
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return folder / "bloomz.duckdb"


@pytest.mark.parametrize(
    ("fault", "stopped"),
    [
        (
            {"kind": "status", "status": 503, "path": "/ims/oneroster/v1p1/enrollments", "count": None},
            "tap-oneroster stopped: OneRoster GET /enrollments: HTTP 503 Service Unavailable",
        ),
        (
            {"kind": "cut", "path": "/ims/oneroster/v1p1/users", "after": 1, "count": None},
            "tap-oneroster stopped:",
        ),
    ],
    ids=["503-past-retries", "cut-bodies"],
)
def test_a_oneroster_pull_that_gives_up_after_its_retries_changes_nothing(
    sandbox: Sandbox, oneroster_baseline: Path, faults, tmp_path: Path, fault: dict, stopped: str
) -> None:
    database = tmp_path / "bloomz.duckdb"
    database.write_bytes(oneroster_baseline.read_bytes())
    before = exported(database)
    faults(fault)

    run = pipe(
        "tap-oneroster", oneroster_config(sandbox), {"database": str(database), "full_data": True}, tmp_path
    )

    assert run.tap_returncode == 1
    assert run.returncode == 1, run.stderr[-3000:]
    assert run.states == []
    assert exported(database) == before
    (status, reason) = query(database, "SELECT status, status_reason FROM runs ORDER BY id DESC LIMIT 1")[0]
    assert status == "failed"
    assert reason.startswith(f"the source stopped before the pull was complete ({stopped}")
    assert reason.endswith("; nothing was changed")
