"""The Bloomz store: the one interface every step, command and the console reach it through.

- open it: ``connect`` (read-write, created or upgraded; ``read_only`` for readers), ``reader`` (read-only,
  for status, export and the console) and ``open_for_import`` (waits while another process has it open);
- lock a school community for an import: ``lock`` (a lease renewed while held; ``SyncInProgress`` says
  who holds it), ``in_progress`` (the locks held now);
- know whether it moved: ``change_counter`` and ``bump_change_counter`` (an applied run, an edit, an undo).

A run's plan is applied in one transaction of the connection ``open_for_import`` gives (apply/). Today
one implementation: an embedded DuckDB file (duckdb_store.py) with lock files beside it (locks.py).
"""

from target_bloomz.store.duckdb_store import (
    SCHEMA_VERSION,
    StoreError,
    bump_change_counter,
    change_counter,
    connect,
    in_insertion_order,
    reader,
    schema_version,
    upgrade,
)
from target_bloomz.store.locks import (
    LockLost,
    SyncInProgress,
    holder,
    in_progress,
)
from target_bloomz.store.locks import hold as lock
from target_bloomz.store.locks import open_store as open_for_import

__all__ = [
    "SCHEMA_VERSION",
    "LockLost",
    "StoreError",
    "SyncInProgress",
    "bump_change_counter",
    "change_counter",
    "connect",
    "holder",
    "in_insertion_order",
    "in_progress",
    "lock",
    "open_for_import",
    "reader",
    "schema_version",
    "upgrade",
]
