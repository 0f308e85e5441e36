"""The Bloomz store: what every step and command uses to reach it.

Today one implementation, an embedded DuckDB file (duckdb_store.py, store/locks.py). The steps name the store
through these functions only, so a server database can be added behind them.
"""

from target_bloomz.store.duckdb_store import (
    SCHEMA_VERSION,
    StoreError,
    bump_change_counter,
    change_counter,
    connect,
    in_insertion_order,
    schema_version,
    upgrade,
)

__all__ = [
    "SCHEMA_VERSION",
    "StoreError",
    "bump_change_counter",
    "change_counter",
    "connect",
    "in_insertion_order",
    "schema_version",
    "upgrade",
]
