"""What `meltano run tap-clever target-bloomz` and an orchestrator see: a held run is a failed job with a
"HELD" line (target-bloomz exits 3) and Meltano's state does not move; `bloomz-sync approve` prints the
real state id, and its `meltano state set` line works as printed. A first Clever import whose status
e-mail reaches nobody says so, with the fix, in its output and on its status page."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.district import query
from tests.support.project import meltano_env, pristine_project

BIN = Path(sys.executable).parent
STATE_ID = "sandbox:tap-clever-to-target-bloomz"

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(tmp_path: Path, demo_sandbox) -> tuple[Path, dict[str, str]]:
    """The committed Meltano project, pointed at the demo-district sandbox."""
    return pristine_project(tmp_path), meltano_env(TAP_CLEVER_API_URL=demo_sandbox.clever_api_url)


def _run(root: Path, env: dict[str, str], *command: str, check: bool = True) -> subprocess.CompletedProcess:
    """meltano or bloomz-sync, run in the project; ``check``: it must succeed."""
    done = subprocess.run(
        [str(BIN / command[0]), *command[1:]], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


def _state(root: Path, env: dict[str, str]) -> dict:
    return json.loads(_run(root, env, "meltano", "state", "get", STATE_ID).stdout)


def test_a_held_run_fails_the_job_keeps_the_state_and_approve_prints_the_real_state_id(project):
    root, env = project
    database = root / "data" / "bloomz.duckdb"
    _run(root, env, "meltano", "run", "tap-clever", "target-bloomz")
    state_after_first = _state(root, env)

    (root / "none.yml").write_text("extends: clever\nsections: {rules: [], default: exclude}\n")
    archive_all = {
        **env,
        "TARGET_BLOOMZ_MAPPING": str(root / "none.yml"),
        "TARGET_BLOOMZ_FULL_DATA": "true",
        "TARGET_BLOOMZ_ARCHIVE": "true",
    }
    held = _run(root, archive_all, "meltano", "run", "tap-clever", "target-bloomz", check=False)

    assert held.returncode != 0, "a held run is not a completed job"
    assert "Run 2 HELD for approval, nothing applied: over the safety limits" in held.stderr
    assert "target-bloomz exits with status 3 (held)" in held.stderr
    assert re.search(r"\[error\s*\]\s+meltano\s+Block run completed", held.stderr), held.stderr[-3000:]
    assert _state(root, env) == state_after_first, "Meltano's bookmark did not move"
    assert query(database, "SELECT status FROM runs WHERE id = 2") == [("held",)]
    status = _run(root, env, "bloomz-sync", "--database", str(database), "status").stdout
    assert "Status: Held for approval: nothing was changed" in status

    approved = _run(root, env, "bloomz-sync", "--database", str(database), "approve", "2").stdout

    assert "Run 2 approved and applied." in approved
    line = next(line for line in approved.splitlines() if "meltano state set" in line)
    command = shlex.split(line)
    assert command[:4] == ["meltano", "state", "set", "--force"]
    assert command[4] == STATE_ID, "the run's real state id, not a placeholder"
    _run(root, env, *command)
    (singer_state,) = query(database, "SELECT singer_state FROM runs WHERE id = 2")[0]
    assert _state(root, env) == {"singer_state": json.loads(singer_state)}


def test_the_status_page_shows_a_status_email_that_reached_nobody_and_how_to_fix_it(project):
    root, env = project
    database = root / "data" / "bloomz.duckdb"
    first = _run(root, env, "meltano", "run", "tap-clever-lincoln-elementary", "target-bloomz")
    key = "clever:5a25ff950a5f621109000005"
    # its staff all come in as School Support Staff: nobody to tell
    assert f"Run 1: warning: the Bulk Import Status e-mail of {key} was sent to nobody" in first.stderr

    status = _run(root, env, "bloomz-sync", "--database", str(database), "status").stdout
    _run(root, env, "bloomz-sync", "--database", str(database), "report", "1", "--html", "report.html")
    page = (root / "report.html").read_text()

    assert f"Note: the Bulk Import Status e-mail of {key} was sent to nobody" in status
    assert "(School Admin)" in status
    assert f'bloomz-sync set-role {key} PERSON "School Admin"' in status
    assert "was sent to nobody" in page
    assert query(database, "SELECT count(*) FROM outbox WHERE kind = 'import_status'") == [(0,)]

    # the fix the warning gives: an admin raised to School Admin gets the next run's e-mail, no warning
    (admin,) = query(
        database,
        """SELECT min(s.source_id) FROM person_sources s JOIN people p ON p.id = s.person_id
           WHERE p.kind = 'staff' AND p.email IS NOT NULL""",
    )[0]
    _run(root, env, "bloomz-sync", "--database", str(database), "set-role", key, admin, "School Admin")
    second = _run(root, env, "meltano", "run", "tap-clever-lincoln-elementary", "target-bloomz")

    assert "was sent to nobody" not in second.stderr
    mails = "SELECT count(*) FROM outbox WHERE kind = 'import_status' AND run_id = 2"
    assert query(database, mails) == [(1,)]
