"""How far an import is: its phase, the records received so far and their rate.

On a terminal (stderr is a TTY) one line redraws itself as a progress bar over the import's phases; in a
log (Meltano, cron, CI) a line goes out when a phase starts and, while records arrive, every ``interval``
seconds. Callers report cheaply: the reader every few thousand records, the sinks once per BATCH file
(its size: counting its lines would cost a second scan of every byte), and the clock is read only then.
Once staged, the records are counted exactly.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

PHASES = ("receive", "stage", "map", "plan", "apply")
LOG_INTERVAL = 10.0  # seconds between two lines in a log while records arrive
REDRAW_INTERVAL = 0.2  # seconds between two redraws of the bar on a terminal
BAR_WIDTH = 20


class Progress:
    def __init__(
        self,
        out: TextIO | None = None,
        *,
        terminal: bool | None = None,
        interval: float = LOG_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out if out is not None else sys.stderr
        self.terminal = self.out.isatty() if terminal is None else terminal
        self.interval = REDRAW_INTERVAL if self.terminal else interval
        self.clock = clock
        self.started = clock()
        self.phase_name = PHASES[0]
        self.spooled = 0  # records the reader appended to the spools as they came
        self.batch_files = 0  # BATCH files appended to the spools
        self.batch_bytes = 0
        self.staged: int | None = None  # every record received, once staging counted them
        self._shown_at = self.started

    def spooled_so_far(self, count: int) -> None:
        """The reader's count of spooled records (it calls this every few thousand records)."""
        self.spooled = count
        self._maybe_show()

    def add_batch(self, size: int) -> None:
        """A BATCH file of ``size`` bytes was appended to a spool."""
        self.batch_files += 1
        self.batch_bytes += size
        self._maybe_show()

    def staged_records(self, count: int) -> None:
        """Staging counted every record received: the next lines say it."""
        self.staged = count

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """A phase of the import (one of PHASES): said when it starts; the bar is cleared when it ends."""
        self.phase_name = name
        self.show()
        yield
        if self.terminal:
            self.out.write("\r\x1b[K")
            self.out.flush()

    def _maybe_show(self) -> None:
        if self.clock() - self._shown_at >= self.interval:
            self.show()

    def show(self) -> None:
        """Say where the import is now."""
        now = self._shown_at = self.clock()
        elapsed = now - self.started
        step = PHASES.index(self.phase_name) + 1 if self.phase_name in PHASES else len(PHASES)
        state = f"{self.phase_name} ({step}/{len(PHASES)}): {self._received(elapsed)} in {elapsed:.1f} s"
        if self.terminal:
            done = BAR_WIDTH * (step - 1) // len(PHASES)
            bar = "#" * done + ">" + "." * (BAR_WIDTH - done - 1)
            self.out.write(f"\r\x1b[K[{bar}] {state}")
        else:
            self.out.write(f"progress: {state}\n")
        self.out.flush()

    def _received(self, elapsed: float) -> str:
        """What came so far: records (with their rate while they arrive) and BATCH files, until staged."""
        if self.staged is not None:
            return f"{self.staged:,} records"
        receiving = self.phase_name == PHASES[0] and elapsed > 0
        parts = []
        if self.spooled or not self.batch_files:
            rate = f" ({self.spooled / elapsed:,.0f}/s)" if receiving and self.spooled else ""
            parts.append(f"{self.spooled:,} records{rate}")
        if self.batch_files:
            mib = self.batch_bytes / 2**20
            rate = f" ({mib / elapsed:,.1f} MiB/s)" if receiving else ""
            parts.append(f"{self.batch_files:,} BATCH files of {mib:,.1f} MiB{rate}")
        return " and ".join(parts)
