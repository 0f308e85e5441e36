"""What every hostile case checks: the exit code, that the message names the place (a line, a file, a key,
a URL path), that no traceback and no personal data was printed, and that a store that was good before is
unchanged (a failed run) or fully updated (a run that set the bad records aside and applied the rest)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.support import runner
from tests.support.district import DISTRICT_TABLES

# Personal data of tests.support.district() and of the records the cases inject: never to be printed.
PERSONAL = (
    "Ann.Smith@Example.org",
    "gus@example.org",
    "555-0142",
    "555-0199",
    "Hal Lee",
    "Ida Emergency",
    "Zyxwy",  # the cases' own injected name
    "zyxwy@example.org",
    "555-0177",
)


def assert_clean(
    run: runner.Run,
    *,
    exit_code: int,
    names: Iterable[str] = (),
    private: Iterable[str] = PERSONAL,
) -> None:
    """The run ended with ``exit_code``, no traceback, its output naming ``names`` and none of ``private``."""
    assert run.escaped is None, f"a traceback escaped:\n{run.escaped}"
    assert "Traceback" not in run.output, run.stderr[-3000:]
    assert run.exit_code == exit_code, run.stderr[-3000:]
    for place in names:
        assert place in run.stderr, f"{place!r} is not named in:\n{run.stderr[-3000:]}"
    for secret in private:
        assert secret not in run.printed, f"{secret!r} was printed"
    if exit_code:  # the failure line: a plugin's "stopped:", click's "Error:", a validator's "file:line:",
        # or target-bloomz's refused, held, failed or incomplete run ("Run N refused, nothing applied: <why>")
        ends = (
            r" stopped: |^Error: |^\S+:\d+: |^Run \d+ (refused|HELD for approval), nothing applied"
            r"|^Run \d+ (failed|incomplete): "
        )
        failure = [line for line in run.stderr.splitlines() if re.search(ends, line)]
        assert failure, f"no failure line in:\n{run.stderr[-3000:]}"


def assert_store(database: Path, before: dict[str, Any], *, applied: bool, runs: int = 1) -> None:
    """Unchanged when the run failed. When it did not, ``runs`` more runs, the last applied, and everything
    the district had before still there (the cases resend the good district, adding only their records)."""
    after = runner.store_state(database)
    if not applied:
        assert after == before, "a failed run changed the store"
        return
    assert len(after["runs"]) == len(before["runs"]) + runs
    assert runner.last_run_status(database) == "applied"
    for table in DISTRICT_TABLES:
        missing = {repr(row) for row in before[table]} - {repr(row) for row in after[table]}
        assert not missing, f"{table} lost {len(missing)} rows"
