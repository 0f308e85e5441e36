"""target-bloomz run in this process with a stopwatch on its steps and on every SQL statement it executes.

Started by bench/target_profile.py as ``python _target_timer.py --config C`` (the target's own arguments),
with ``BENCH_SPAWNED`` (the parent's clock when it started this process) and ``BENCH_TIMINGS`` (where to
write the figures, JSON). Only measures: the target's modules are wrapped from outside, not changed.
"""

from __future__ import annotations

import time

STARTED, STARTED_CPU = time.time(), time.process_time()  # before any import

import functools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections import defaultdict  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

# Wall seconds, and CPU seconds of the whole process (every DuckDB thread): under load the wall time
# stretches with the machine's other work, the CPU time far less.
SPANS: dict[str, float] = defaultdict(float)
SPANS_CPU: dict[str, float] = defaultdict(float)
MARKS: dict[str, float] = {"started": STARTED}
MARKS_CPU: dict[str, float] = {"started": STARTED_CPU}
STATEMENTS: dict[str, list[Any]] = {}  # "file:line" -> [seconds, calls, first SQL, CPU seconds]

# (module, attribute, label): the steps of a run, as the import pipeline calls them.
STEPS = [
    ("target_bloomz.target", "TargetBloomz.__init__", "TargetBloomz() (settings, mapping, spools)"),
    ("target_bloomz.target", "TargetBloomz._load_mapping", "  of which: load the mapping file"),
    ("target_bloomz.pipeline.lock_scope", "scopes", "lock keys (lock_scope.scopes)"),
    ("target_bloomz.store", "open_for_import", "open the store (connect, upgrade)"),
    ("target_bloomz.stage.staging", "stage", "stage"),
    ("target_bloomz.stage.mirror", "merge", "mirror.merge"),
    ("target_bloomz.stage.staging", "check_references", "check references"),
    ("target_bloomz.mapping.answers", "run", "map"),
    ("target_bloomz.contacts.normalize", "normalize_contacts", "normalize contacts"),
    ("target_bloomz.guard.safety", "check_first_import", "guard.check_first_import"),
    ("target_bloomz.runs.run_log", "start", "runs.start"),
    ("target_bloomz.runs.run_log", "note_start", "run_log.note_start"),
    ("target_bloomz.plan.planner", "build", "plan"),
    ("target_bloomz.plan.saved_plan", "save", "save the plan"),
    ("target_bloomz.pipeline.import_pipeline", "ImportPipeline._report", "report (plan summary, issues)"),
    ("target_bloomz.guard.hold", "hold_if_over_limits", "safety limits"),
    ("target_bloomz.apply.transaction", "apply", "apply (one transaction, commit)"),
    ("target_bloomz.pipeline.import_pipeline", "ImportPipeline._after_run", "outbox, delivery"),
]


def _timed(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            SPANS[label] += time.perf_counter() - started
            SPANS_CPU[label] += time.process_time() - cpu

    return wrapper


class TimedConnection:
    """A DuckDB connection whose ``execute`` is timed per calling line; everything else passes through."""

    def __init__(self, con: Any) -> None:
        self._con = con

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        caller = sys._getframe(1)
        where = f"{Path(caller.f_code.co_filename).name}:{caller.f_lineno}"
        started, cpu = time.perf_counter(), time.process_time()
        result = self._con.execute(sql, *args, **kwargs)
        entry = STATEMENTS.setdefault(where, [0.0, 0, " ".join(str(sql).split())[:90], 0.0])
        entry[0] += time.perf_counter() - started
        entry[1] += 1
        entry[3] += time.process_time() - cpu
        return self if result is self._con else result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def __enter__(self) -> TimedConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.close()


def _install() -> Any:
    import importlib

    started, cpu = time.perf_counter(), time.process_time()
    target = importlib.import_module("target_bloomz.target")
    SPANS["import target_bloomz.target (and all it imports)"] = time.perf_counter() - started
    SPANS_CPU["import target_bloomz.target (and all it imports)"] = time.process_time() - cpu
    for module_name, attribute, label in STEPS:
        module = importlib.import_module(module_name)
        owner_name, _, name = attribute.rpartition(".")
        owner = getattr(module, owner_name) if owner_name else module
        setattr(owner, name, _timed(label, getattr(owner, name)))
    store: Any = importlib.import_module("target_bloomz.store.duckdb_store")
    connect = store.connect
    store.connect = lambda *a, **k: TimedConnection(connect(*a, **k))
    cls = target.TargetBloomz
    listen, endofpipe = cls.listen, cls.process_endofpipe

    def timed_listen(self: Any, *args: Any, **kwargs: Any) -> Any:
        _mark("reading starts")
        return listen(self, *args, **kwargs)

    def timed_endofpipe(self: Any) -> Any:
        _mark("end of input")
        try:
            return endofpipe(self)
        finally:
            _mark("import done")

    cls.listen, cls.process_endofpipe = timed_listen, timed_endofpipe
    return cls


def _mark(name: str) -> None:
    MARKS[name], MARKS_CPU[name] = time.time(), time.process_time()


def main() -> None:
    cls = _install()
    _mark("ready")
    code: object = 0
    try:
        cls.cli(args=sys.argv[1:], prog_name="target-bloomz", standalone_mode=False)
    except SystemExit as stop:
        code = stop.code
    finally:
        _mark("returned")
        report = {
            "spawned": float(os.environ["BENCH_SPAWNED"]),
            "marks": MARKS,
            "marks_cpu": MARKS_CPU,
            "spans": SPANS,
            "spans_cpu": SPANS_CPU,
            "statements": STATEMENTS,
        }
        Path(os.environ["BENCH_TIMINGS"]).write_text(json.dumps(report))
    sys.modules[cls.__module__].end_process(code)  # as the target-bloomz command ends


if __name__ == "__main__":
    main()
