"""Approve in the console also does what ``bloomz-sync approve`` tells an admin to do next: it moves Meltano's
state to the approved run's.

A held run sent Meltano no STATE, so the bookmark of the school's job is where the last applied run left it.
``bloomz-sync approve`` prints ``meltano state set --force <state id> '<state>'`` for an admin to run; the
console runs it in the project's folder (where the district's plugins are), for the state id the target
recorded when Meltano started the run, with the Singer state the run held. When it cannot, the page says so
in one line with the command to run by hand; the run stays applied (the next import then pulls again from
the old bookmark, which changes nothing).
"""

from __future__ import annotations

import shlex
import subprocess

import duckdb

from bloomz_console import engine
from bloomz_console.project import Project, last_line

TIMEOUT = 120  # seconds: one Meltano command on a loaded machine


def approve(project: Project, con: duckdb.DuckDBPyConnection, run_id: int) -> str:
    """Apply the held run, then move Meltano's state; what happened, in the words of the page."""
    approved = engine.approve(con, project.database, run_id)
    state = approved.meltano_state
    if state is None or approved.meltano_state_id is None:
        # nothing to move, or Meltano did not start the run: approve's own words on which job to give
        return approved.text()
    return approved.applied_text() + "\n" + move(project, approved.meltano_state_id, state)


def move(project: Project, state_id: str, state: str) -> str:
    """``meltano state set --force`` in the project; one line saying it did, or why not."""
    command = shlex.join(["meltano", "state", "set", "--force", state_id, state])
    try:
        done = project.meltano("state", "set", "--force", state_id, state, timeout=TIMEOUT)
        reason = None if done.returncode == 0 else _error(done.stderr)
    except (OSError, subprocess.TimeoutExpired) as err:
        reason = str(err)
    if reason is None:
        return f"Meltano's state of {state_id} is now this run's: the console ran {command}"
    return (
        f"Meltano's state of {state_id} was not moved ({reason}): the next import pulls again from the last "
        f"bookmark; to move it now, run in the project's folder: {command}"
    )


def _error(stderr: str) -> str:
    """Meltano's own error line (``Error: ...``, followed by advice lines), else its last line."""
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    return errors[-1].removeprefix("Error:").strip() if errors else last_line(stderr)
