"""One import per school community at a time ("Sync in progress"), and no school blocked forever by a crash.

A lock is a small JSON file per community beside the store (``<store>.locks/<community key>.lock``),
created atomically. Files, not a table: an embedded DuckDB store is opened by one writer at a time, so a
second import could not even read a lock table to say who holds it. A lock is stale, and taken over, when
its lease expired or its holder's process is gone (same host); the new run says it took it over.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote

# An import of the largest district takes minutes; a lease this long only matters when the holder's host
# cannot be asked (another machine sharing the store's folder).
LEASE = timedelta(hours=6)


class SyncInProgress(RuntimeError):
    """Another import holds the community."""


@dataclass(frozen=True)
class TakenOver:
    """A stale lock this run took over."""

    scope: str
    holder: str
    since: str
    why: str

    def message(self) -> str:
        return f"took over the lock of {self.scope} held by {self.holder} since {self.since}: {self.why}"


def lock_dir(database: Path) -> Path:
    """Where the locks of a store live."""
    return database.with_name(database.name + ".locks")


def in_progress(database: Path) -> list[str]:
    """ "sync in progress for <scope>: held by ... since ..." for each lock now beside the store."""
    found = []
    for path in sorted(lock_dir(database).glob("*.lock")):
        try:
            lock = json.loads(path.read_text() or "{}")
        except (OSError, ValueError):  # released or half-written right now: not worth a message
            continue
        if lock:
            scope = unquote(path.name.removesuffix(".lock"))
            found.append(
                f"sync in progress for {scope}: held by {lock.get('holder')} since {lock.get('since')}"
            )
    return found


def is_store_busy(err: BaseException) -> bool:
    """Whether opening the store failed because another process has it open (DuckDB's file lock)."""
    return "Could not set lock on file" in str(err)


def busy_message(database: Path) -> str:
    """What an admin reads when the store is open in another process: the imports holding it, if known."""
    held = in_progress(database)
    if held:
        return "; ".join(held) + ". Try again when it has ended."
    return (
        f"the Bloomz store {database} is open in another process (an import?). Try again when it has ended."
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(lock: dict, now: datetime) -> str | None:
    if datetime.fromisoformat(lock["expires"]) < now:
        return f"its lease expired at {lock['expires']}"
    if lock.get("host") == socket.gethostname() and not _alive(int(lock["pid"])):
        return f"its process {lock['pid']} is gone"
    return None


@contextmanager
def hold(database: Path, scopes: Iterable[str], holder: str) -> Iterator[list[TakenOver]]:
    """Lock every community of ``scopes`` for the duration; yield the stale locks taken over.

    Raises SyncInProgress naming the holder and since when a live import holds one of them.
    """
    folder = lock_dir(database)
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    mine = {
        "holder": holder,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": now.isoformat(timespec="seconds"),
        "expires": (now + LEASE).isoformat(timespec="seconds"),
    }
    taken: list[TakenOver] = []
    held: list[Path] = []
    try:
        for scope in sorted(set(scopes)):
            path = folder / f"{quote(scope, safe='')}.lock"
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                other = json.loads(path.read_text() or "{}")
                why = _stale(other, now) if other else "the lock file was empty"
                if why is None:
                    raise SyncInProgress(
                        f"sync in progress for {scope}: held by {other['holder']} since {other['since']}"
                    ) from None
                taken.append(TakenOver(scope, other.get("holder", "?"), other.get("since", "?"), why))
                _replace(path, mine)
            else:
                with os.fdopen(fd, "w") as file:
                    json.dump(mine, file)
            held.append(path)
        yield taken
    finally:
        for path in held:
            path.unlink(missing_ok=True)


def _replace(path: Path, lock: dict) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(lock))
    os.replace(tmp, path)
