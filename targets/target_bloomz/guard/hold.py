"""Hold a run over a safety limit: keep its plan and its input, apply nothing, wait for a person.

`bloomz-sync approve` applies it later (control/held_runs.py), `discard` drops it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb

from target_bloomz.guard import safety
from target_bloomz.mapping import Mapping
from target_bloomz.plan import artifact

# target-bloomz's exit status when its run is held over a safety limit (docs/resync.md): not 0, since nothing
# was applied and Meltano's state must not move; not 1, so an orchestrator can tell "waits for a person" from
# a failure. Refused and failed runs exit 1.
EXIT_HELD = 3


def meltano_state_id() -> str | None:
    """The state id Meltano keeps this run's bookmark under (``meltano run`` gives its plugins the names
    it is made of); None when Meltano did not start this run. Meltano names it
    ``<environment>:<extractor>-to-<loader>[:<suffix>]``; of the suffix, plugins see only
    MELTANO_RUN_STATE_ID_SUFFIX, not ``--state-id-suffix`` nor an environment's ``state_id_suffix``
    (docs/resync.md)."""
    env = os.environ
    environment, extractor, loader = (
        env.get(f"MELTANO_{name}") for name in ("ENVIRONMENT", "EXTRACTOR_NAME", "LOADER_NAME")
    )
    if not (environment and extractor and loader):
        return None
    suffix = env.get("MELTANO_RUN_STATE_ID_SUFFIX")
    return f"{environment}:{extractor}-to-{loader}" + (f":{suffix}" if suffix else "")


def hold_if_over_limits(
    con: duckdb.DuckDBPyConnection, database: Path, mapping: Mapping, run_id: int, *, feed: str
) -> bool:
    """Hold the run when its plan is over a safety limit: keep plan and input, apply nothing. True if held."""
    reasons = safety.over_limits(con, mapping)
    if not reasons:
        return False
    artifact.save(con, database, run_id, feed=feed, meltano_state_id=meltano_state_id())
    reason = "over the safety limits: " + "; ".join(reasons)
    con.execute(
        "UPDATE runs SET status = 'held', status_reason = ?, finished_at = now() WHERE id = ?",
        [reason, run_id],
    )
    print(
        f"Run {run_id} HELD for approval, nothing applied: {reason}.\n"
        f"Read the plan with `bloomz-sync plan {run_id}`, then `bloomz-sync approve {run_id}` or "
        f"`bloomz-sync discard {run_id}`. Meltano's state was not advanced; "
        f"target-bloomz exits with status {EXIT_HELD} (held).",
        file=sys.stderr,
        flush=True,
    )
    return True
