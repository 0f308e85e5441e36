"""An import refused while another import of the school is applying (the store open in that one) is recorded
as a refused run as soon as the store can be written: in `bloomz-sync runs`, the school's status and its
status e-mail. Whole-stream warnings name their stream, never "None"."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.support.district import district, query, singer_lines
from tests.support.processes import config_file, finish, paused, run
from tests.support.store_queries import run_row

CLI = str(Path(sys.executable).with_name("bloomz-sync"))


def _cli(database: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, "--database", str(database), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_an_import_refused_while_another_applies_is_recorded_once_the_store_is_free(
    database, tmp_path, open_limits
):
    config = config_file(
        tmp_path, database, open_limits, notify_to=["School Support Staff"], outbox_dir=str(tmp_path / "out")
    )
    assert run(config, singer_lines(district())).returncode == 0
    first = paused(config, singer_lines(district()))

    second = run(config, singer_lines(district()))
    waiting = list(database.parent.glob("*.refusals/*.json"))
    first.send_signal(signal.SIGUSR1)  # done pausing: it commits, closes the store, records the refusal
    first_stderr = finish(first)

    assert second.returncode == 1
    holder = f"sync in progress for clever:sch1: held by target-bloomz (pid {first.pid} on "
    assert holder in second.stderr
    assert "(recorded as a refused run once the store is free)" in second.stderr
    assert len(waiting) == 1, "the refusal waited beside the store while the other import held it"
    assert "Traceback" not in second.stderr
    assert second.stdout == "", "a refused run emits no STATE"
    assert first.returncode == 0, first_stderr[-3000:]
    # the import that held the store recorded the refusal when it was done with it
    assert f"Run 3 refused, nothing applied: {holder}" in first_stderr
    assert [run_row(database, n)[0] for n in (1, 2, 3)] == ["applied", "applied", "refused"]
    assert str(run_row(database, 3)[1]).startswith(holder)
    runs = _cli(database, "runs").stdout.splitlines()
    assert runs[1].split()[:2] == ["3", "refused"]
    status = _cli(database, "status").stdout
    assert "Status: Refused: nothing was changed" in status
    assert holder in status
    mails = query(
        database, "SELECT recipient, subject FROM outbox WHERE run_id = 3 AND kind = 'import_status'"
    )
    assert [recipient for recipient, _ in mails] == ["ann.smith@example.org"]
    assert mails[0][1].startswith("Bulk Import Status: Lincoln Elementary (Clever): Refused")
    assert not list(database.parent.glob("*.refusals/*.json")), "nothing left waiting"


def test_a_whole_stream_warning_names_its_stream(database, tmp_path, open_limits):
    config = config_file(tmp_path, database, open_limits, full_data=True)
    assert run(config, singer_lines(district())).returncode == 0
    assert run(config, singer_lines({**district(), "contacts": []})).returncode == 0

    shown = _cli(database, "plan", "2").stdout

    assert "warning: contacts: Full Data: no removals from contacts this run: it came back empty" in shown
    assert "None" not in shown
