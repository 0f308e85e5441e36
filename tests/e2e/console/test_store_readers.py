"""A reader holding the store for a moment (the console loading a page) does not make an import fail."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
from target_bloomz.store import locks

from tests.support.district import district, query, run_target, singer_lines


def test_an_import_waits_for_a_reader_to_let_go(database: Path, tmp_path: Path) -> None:
    first = run_target({"database": str(database)}, singer_lines(district()), tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    reader = duckdb.connect(str(database), read_only=True)

    def let_go_once_the_import_wants_the_store() -> None:
        deadline = time.monotonic() + 120
        while not list(locks.lock_dir(database).glob("*.lock")) and time.monotonic() < deadline:
            time.sleep(0.02)  # the import takes its school's lock just before it opens the store
        time.sleep(1.0)
        reader.close()

    threading.Thread(target=let_go_once_the_import_wants_the_store, daemon=True).start()
    second = run_target({"database": str(database)}, singer_lines(district()), tmp_path)

    assert second.returncode == 0, second.stderr[-2000:]
    assert query(database, "SELECT status FROM runs ORDER BY id") == [("applied",), ("applied",)]
