"""Files with personal data are the owner's alone: files 0600, folders 0700.

Every executable runs its command under umask 077 (``owner_only``), so whatever it creates (the store and
its write-ahead log, held-run copies, lock files, outbox .eml files, sms.jsonl, BATCH files, spools) is
readable by its owner only. The places that create those files also set the modes themselves (``folder``,
``protect``, ``create``), which fixes a store an older version left world-readable and covers code that
imports these modules without running an executable.

Spools (the records of a run in flight, DuckDB's spill files) live in one private folder per user,
``<temp dir>/bloomz-sync-<uid>/`` (``TMPDIR`` moves it), one sub-folder per process named
``<program>-<pid>-<random>``. A process removes its own when it ends; one killed leaves it behind, and the
next run or ``bloomz-sync`` command removes every spool whose process is gone (``sweep_spools``).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from plugin_runtime.failures import BadSetting

FILE_MODE = 0o600
FOLDER_MODE = 0o700
# An import never runs this long: a spool older than this is left over, even if its pid was recycled.
SPOOL_MAX_AGE_SECONDS = 24 * 3600


@contextmanager
def owner_only() -> Iterator[None]:
    """Create files owner-only (umask 077) while the block runs."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def protect(path: Path) -> None:
    """Make an existing file (0600) or folder (0700) of ours owner-only; leave others' files and links."""
    try:
        status = path.lstat()
    except FileNotFoundError:
        return
    if status.st_uid != os.getuid() or stat.S_ISLNK(status.st_mode):
        return
    mode = FOLDER_MODE if stat.S_ISDIR(status.st_mode) else FILE_MODE
    if stat.S_IMODE(status.st_mode) != mode:
        path.chmod(mode)


def folder(path: Path) -> Path:
    """``path`` as an owner-only folder, created (with missing parents) when absent."""
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    protect(path)
    return path


def create(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> int:
    """Open ``path`` with ``flags``, creating it 0600; an existing file of ours is made 0600 too."""
    descriptor = os.open(path, flags, FILE_MODE)
    protect(path)
    return descriptor


def spool_root() -> Path:
    """The user's private folder for spools; refused when someone else owns it (another user's trap)."""
    root = Path(tempfile.gettempdir()) / f"bloomz-sync-{os.getuid()}"
    root.mkdir(mode=FOLDER_MODE, exist_ok=True)
    status = root.lstat()
    if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.getuid():
        raise BadSetting(
            f"the spool folder {root} is not a folder of this user; remove it, or set TMPDIR to a folder "
            "of your own"
        )
    protect(root)
    return root


def new_spool(program: str) -> Path:
    """A fresh private folder for this process's spool, after sweeping those killed processes left."""
    sweep_spools()
    return Path(tempfile.mkdtemp(prefix=f"{program}-{os.getpid()}-", dir=spool_root()))


def sweep_spools() -> list[Path]:
    """Remove the spools whose process is gone (or that are older than a day); return what was removed."""
    removed = []
    for spool in spool_root().iterdir():
        if _left_over(spool):
            shutil.rmtree(spool, ignore_errors=True)
            removed.append(spool)
    return removed


def _left_over(spool: Path) -> bool:
    pid = spool.name.rsplit("-", 2)[-2] if spool.name.count("-") >= 2 else ""
    if not pid.isdigit():
        return False  # not a spool of ours
    try:
        age = time.time() - spool.lstat().st_mtime
    except FileNotFoundError:
        return False
    return age > SPOOL_MAX_AGE_SECONDS or not alive(int(pid))


def alive(pid: int) -> bool:
    """Whether a process of this machine with this id is running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
