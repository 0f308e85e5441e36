"""One import per school community at a time ("Sync in progress"), and no school blocked by a crash or a hang.

A lock is a small JSON file per community beside the store (``<store>.locks/<community key>.lock``). Files,
not a table: an embedded DuckDB store is opened by one writer at a time, so a second import could not even
read a lock table to say who holds it. Every change to a lock file (take, renew, take over, release) happens
under an exclusive ``flock`` of ``<store>.locks/.guard``, held for a few file operations only: two imports
started at the same instant cannot both take a lock, nor read one half-written.

A lock is a lease: it expires ``lease_seconds()`` (default two minutes) after it was taken or last renewed,
and the holder renews it from a background thread while it works (:func:`hold`). A lock is stale, and
taken over, when its lease expired (the holder stopped: hung, stopped or on a dead host) or its holder's
process is gone (same host); the new run says it took it over. A hung holder on this host still has the
store open, so it is ended (SIGKILL) first: nothing of it is applied, apply being one transaction.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote

import duckdb

from plugin_runtime import private
from plugin_runtime.failures import Failure
from target_bloomz.store import duckdb_store

LEASE_ENV = "BLOOMZ_LOCK_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 120.0
_GUARD_WAIT_SECONDS = 30.0  # the guard is held for a few file operations: waiting longer means it is stuck


class SyncInProgress(Failure, RuntimeError):
    """Another import holds the community."""


class LockLost(Failure, RuntimeError):
    """Another import took over a lock this one held (it stopped renewing it for a whole lease)."""


@dataclass(frozen=True)
class TakenOver:
    """A stale lock this run took over."""

    scope: str
    holder: str
    since: str
    why: str

    def message(self) -> str:
        return f"took over the lock of {self.scope} held by {self.holder} since {self.since}: {self.why}"


@dataclass
class Held:
    """The locks an import holds: what it took over, and whether all are still its own."""

    taken_over: list[TakenOver] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Raise LockLost when another import took over one of the locks (checked before COMMIT)."""
        if self.lost:
            raise LockLost(
                f"the lock of {', '.join(self.lost)} was taken over by another import while this one "
                "stopped renewing it: nothing of this import was applied"
            )


def lease_seconds() -> float:
    """How long a lock lives without renewal (``BLOOMZ_LOCK_LEASE_SECONDS``, default 120)."""
    try:
        return max(1.0, float(os.environ.get(LEASE_ENV) or DEFAULT_LEASE_SECONDS))
    except ValueError:
        return DEFAULT_LEASE_SECONDS


def lock_dir(database: Path) -> Path:
    """Where the locks of a store live."""
    return database.with_name(database.name + ".locks")


def in_progress(database: Path) -> list[str]:
    """ "sync in progress for <scope>: held by ... since ..." for each lock now beside the store."""
    found = []
    for path in sorted(lock_dir(database).glob("*.lock")):
        try:
            lock = json.loads(path.read_text() or "{}")
        except (OSError, ValueError):  # released right now: not worth a message
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


@contextmanager
def hold(database: Path, scopes: Iterable[str], holder: str) -> Iterator[Held]:
    """Lock every community of ``scopes`` and renew the leases until the block ends.

    Yields the locks taken over; raises SyncInProgress naming the holder and since when a live import
    holds one of them (then nothing is locked).
    """
    folder = private.folder(lock_dir(database))
    paths = [folder / f"{quote(scope, safe='')}.lock" for scope in sorted(set(scopes))]
    token = secrets.token_hex(8)
    held = Held()
    with _guard(folder):
        mine = _lock(holder, token)
        for path in paths:
            held.taken_over += _take(path, mine)
        for path in paths:
            _write(path, mine)
    stop = threading.Event()
    renewer = threading.Thread(
        target=_renew, args=(folder, paths, token, stop, held), name="lock-lease", daemon=True
    )
    renewer.start()
    try:
        yield held
    finally:
        stop.set()
        renewer.join()
        with _guard(folder):
            for path in paths:
                if _read(path).get("token") == token:
                    path.unlink(missing_ok=True)


def _lock(holder: str, token: str) -> dict:
    now = datetime.now(UTC)
    return {
        "holder": holder,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": _process_start(os.getpid()),
        "token": token,
        "since": now.isoformat(timespec="seconds"),
        "expires": _expiry(now),
    }


def _expiry(now: datetime) -> str:
    """When a lock taken or renewed at ``now`` expires; to the millisecond, since a lease may be short."""
    return (now + timedelta(seconds=lease_seconds())).isoformat(timespec="milliseconds")


def _take(path: Path, mine: dict) -> list[TakenOver]:
    """Check that ``path`` is free or stale (under the guard); a stale lock's hung holder is ended."""
    other = _read(path)
    if not other:
        return []
    why = _stale(other)
    if why is None:
        scope = unquote(path.name.removesuffix(".lock"))
        raise SyncInProgress(
            f"sync in progress for {scope}: held by {other.get('holder')} since {other.get('since')}"
        )
    why += _end_if_hung(other)
    scope = unquote(path.name.removesuffix(".lock"))
    return [TakenOver(scope, other.get("holder", "?"), other.get("since", "?"), why)]


def _stale(lock: dict) -> str | None:
    try:
        expires = datetime.fromisoformat(lock["expires"])
    except (KeyError, TypeError, ValueError):
        return "the lock file was unreadable"
    if expires < datetime.now(UTC):
        return f"its lease expired at {lock['expires']}"
    if _same_host(lock) and not _alive(lock):
        return f"its process {lock.get('pid')} is gone"
    return None


def _end_if_hung(lock: dict) -> str:
    """A holder on this host whose lease expired but whose process lives is hung or stopped: it still has
    the store open, so end it. Only the very process that took the lock (same start time) is ended."""
    if not _same_host(lock) or not _alive(lock) or lock.get("started") is None:
        return ""
    pid = int(lock["pid"])
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return ""
    deadline = time.monotonic() + 10
    while _alive(lock) and time.monotonic() < deadline:
        time.sleep(0.05)
    return f" (its process {pid} on this host was hung: ended it)"


def _same_host(lock: dict) -> bool:
    return lock.get("host") == socket.gethostname()


def _alive(lock: dict) -> bool:
    """Whether the process that took the lock still runs (not a zombie, not a newer process with its pid)."""
    try:
        pid = int(lock["pid"])
        os.kill(pid, 0)
    except (KeyError, TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    stat = _proc_stat(pid)
    if stat is None:  # no /proc (not Linux): the pid is all there is
        return True
    return stat[0] != "Z" and (lock.get("started") is None or stat[1] == lock["started"])


def _process_start(pid: int) -> int | None:
    stat = _proc_stat(pid)
    return stat[1] if stat else None


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks since boot) of a process, from /proc; None where there is none."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # after "(command name)", which may hold spaces
    return fields[0], int(fields[19])


def _renew(folder: Path, paths: list[Path], token: str, stop: threading.Event, held: Held) -> None:
    """Push each lock's expiry a lease ahead, three times per lease, while the import works."""
    while not stop.wait(lease_seconds() / 3):
        with _guard(folder):
            for path in paths:
                lock = _read(path)
                if lock.get("token") != token:
                    scope = unquote(path.name.removesuffix(".lock"))
                    if scope not in held.lost:
                        held.lost.append(scope)
                    continue
                _write(path, {**lock, "expires": _expiry(datetime.now(UTC))})


@contextmanager
def _guard(folder: Path) -> Iterator[None]:
    """Exclusive flock of the lock folder's guard file, for the few file operations of one change."""
    fd = os.open(folder / ".guard", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        deadline = time.monotonic() + _GUARD_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SyncInProgress(
                        f"the import locks beside the store ({folder}) are busy: a process is stuck "
                        "while changing them. Try again."
                    ) from None
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)  # releases the flock


def _read(path: Path) -> dict:
    try:
        loaded = json.loads(path.read_text() or "{}")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {"expires": None}  # unreadable: stale (written under the guard, so never half-written)
    return loaded if isinstance(loaded, dict) else {"expires": None}


def _write(path: Path, lock: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(lock, file)
    os.replace(tmp, path)


# How long an import that holds its schools' locks waits for the store, when another process has it open
# (a status command, a refused import recording its refusal): longer means another school's import applies.
STORE_WAIT_SECONDS = 10.0


def open_store(database: Path, *, wait: float = 0.0) -> duckdb.DuckDBPyConnection:
    """Open the store for writing, waiting up to ``wait`` seconds while another process has it open; still
    open then means a sync is in progress (SyncInProgress)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return duckdb_store.connect(database)
        except duckdb_store.StoreError as err:
            if not is_store_busy(err):
                raise
            if time.monotonic() >= deadline:
                raise SyncInProgress(busy_message(database)) from None
        time.sleep(0.1)


def holder() -> str:
    """Who holds a lock: this process, readable in the "sync in progress" message."""
    return f"target-bloomz (pid {os.getpid()} on {socket.gethostname()})"
