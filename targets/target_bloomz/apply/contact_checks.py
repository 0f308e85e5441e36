"""Keep a run's new e-mail and phone checks (contacts/normalize.py) in the store, with the run."""

from __future__ import annotations

import duckdb

from target_bloomz.contacts.normalize import CHECK_COLUMNS


def save_contact_checks(con: duckdb.DuckDBPyConnection) -> None:
    """Keep this run's new e-mail and phone checks in the store (inside the apply transaction).

    The table is made on first use, by an applied run only, so a dry run leaves the store as it was.
    """
    con.execute(f"CREATE TABLE IF NOT EXISTS contact_checks ({CHECK_COLUMNS})")
    con.execute(
        "INSERT INTO contact_checks SELECT * FROM norm_contact_checks n WHERE NOT EXISTS (SELECT 1 "
        "FROM contact_checks c WHERE c.field = n.field AND c.region = n.region AND c.raw_hash = n.raw_hash)"
    )
