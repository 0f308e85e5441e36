"""How far an import is: its phase, the records received so far and their rate.

On a terminal (stderr is a TTY) one line redraws itself as a progress bar over the import's phases; in a
log (Meltano, cron, CI) a line goes out when a phase starts and every ``interval`` seconds in between. A
background thread does the periodic part, reading the reader's counters: the per-record path pays nothing.
BATCH files are counted by file and size (counting their lines would scan every byte a second time); once
staged, the records are counted exactly.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

PHASES = ("receive", "stage", "map", "plan", "apply")
LOG_INTERVAL = 10.0  # seconds between two lines in a log
REDRAW_INTERVAL = 0.5  # seconds between two redraws of the bar on a terminal
BAR_WIDTH = 20


class Progress:
    def __init__(
        self,
        out: TextIO | None = None,
        *,
        terminal: bool | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out if out is not None else sys.stderr
        self.terminal = self.out.isatty() if terminal is None else terminal
        self.interval = interval or (REDRAW_INTERVAL if self.terminal else LOG_INTERVAL)
        self.clock = clock
        self.started = clock()
        self.phase_name = PHASES[0]
        self.spooled: Callable[[], int] = lambda: 0  # records the reader spooled as they came
        self.batch_files = 0  # BATCH files appended to the spools
        self.batch_bytes = 0
        self.staged: int | None = None  # every record received, once staging counted them
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def watch(self, spooled: Callable[[], int]) -> None:
        """Say where the import is now, then again every ``interval`` until :meth:`stop`; ``spooled()``
        is how many records the reader spooled so far (read from the ticking thread)."""
        self.spooled = spooled
        self.show()
        self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
        self._ticker.start()

    def stop(self) -> None:
        """No more lines; on a terminal, the bar is cleared."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self._clear()

    def add_batch(self, size: int) -> None:
        """A BATCH file of ``size`` bytes was appended to a spool."""
        self.batch_files += 1
        self.batch_bytes += size

    def staged_records(self, count: int) -> None:
        """Staging counted every record received: the next lines say it."""
        self.staged = count

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """A phase of the import (one of PHASES), said when it starts; the bar is cleared when it ends,
        so the log line after it starts on a clean line."""
        self.phase_name = name
        self.show()
        yield
        self._clear()

    def show(self) -> None:
        """Say where the import is now."""
        elapsed = self.clock() - self.started
        step = PHASES.index(self.phase_name) + 1
        state = f"{self.phase_name} ({step}/{len(PHASES)}): {self._received(elapsed)} in {elapsed:.1f} s"
        if self.terminal:
            done = BAR_WIDTH * (step - 1) // len(PHASES)
            line = f"\r\x1b[K[{'#' * done}>{'.' * (BAR_WIDTH - done - 1)}] {state}"
        else:
            line = f"progress: {state}\n"
        with self._lock:
            self.out.write(line)
            self.out.flush()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self.show()

    def _clear(self) -> None:
        if self.terminal:
            with self._lock:
                self.out.write("\r\x1b[K")
                self.out.flush()

    def _received(self, elapsed: float) -> str:
        """What came so far: records (with their rate while they arrive) and BATCH files, until staged."""
        if self.staged is not None:
            return f"{self.staged:,} records"
        receiving = self.phase_name == PHASES[0] and elapsed > 0
        spooled = self.spooled()
        parts = []
        if spooled or not self.batch_files:
            rate = f" ({spooled / elapsed:,.0f}/s)" if receiving and spooled else ""
            parts.append(f"{spooled:,} records{rate}")
        if self.batch_files:
            mib = self.batch_bytes / 2**20
            rate = f" ({mib / elapsed:,.1f} MiB/s)" if receiving else ""
            parts.append(f"{self.batch_files:,} BATCH files of {mib:,.1f} MiB{rate}")
        return " and ".join(parts)
