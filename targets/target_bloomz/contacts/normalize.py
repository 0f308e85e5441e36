"""Normalise the e-mail addresses and phone numbers of a run: the ``norm_email`` and ``norm_phone`` tables.

Part of the map step: each distinct raw value is checked once per store (the answers are kept in the
store's ``contact_checks``), by the SQL fast path (sql_rules.py) where it can, by the reference rules
(rules.py: email-validator, phonenumbers) otherwise.
"""

from __future__ import annotations

import functools
import logging

import duckdb

from target_bloomz.rundb import table_from_lists

log = logging.getLogger(__name__)


def normalize_contacts(con: duckdb.DuckDBPyConnection, region: str) -> None:
    """``norm_email`` and ``norm_phone`` (raw, value, warning) over the distinct raw values.

    A check's answer depends only on the raw value (and a phone's on the region too), so each value is
    checked once per store: the answers are kept in ``contact_checks``, keyed by the raw value's hash (the
    raw value itself is not kept), and only values not in it are checked. Values of the common shapes are
    answered in SQL (sql_rules.py), the others in Python (rules.py). The new answers wait in
    ``norm_contact_checks`` until apply keeps them (apply/contact_checks.py).
    """
    people = ("stg_students", "stg_staff", "stg_contacts")
    con.execute(f"CREATE OR REPLACE TEMP TABLE norm_contact_checks ({CHECK_COLUMNS})")
    known = "contact_checks" if _has_contact_checks(con) else "norm_contact_checks"  # a new store: none
    counts = {"email": (0, 0), "phone": (0, 0)}  # field: (by SQL, by Python)
    for field in counts:
        union = " UNION ".join(f"SELECT {field} FROM {table} WHERE {field} IS NOT NULL" for table in people)
        key = {"field": field, "region": region if field == "phone" else ""}  # an e-mail's is any region's
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE distinct_{field} AS "
            f"SELECT raw, sha256(raw) AS raw_hash FROM ({union}) u(raw)"
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE norm_{field} AS SELECT d.raw, k.value, k.warning "
            f"FROM distinct_{field} d JOIN {known} k "
            "ON k.field = $field AND k.region = $region AND k.raw_hash = d.raw_hash",
            key,
        )
        new = con.execute(
            f"SELECT count(*) FROM distinct_{field} ANTI JOIN norm_{field} USING (raw)"
        ).fetchone()
        if new and new[0]:  # a night whose values were all checked before skips the checkers entirely
            counts[field] = _check_new_values(con, field, region)
            con.execute(f"INSERT INTO norm_{field} SELECT raw, value, warning FROM checked_{field}")
            con.execute(
                "INSERT INTO norm_contact_checks SELECT $field, $region, raw_hash, value, warning "
                f"FROM checked_{field}",
                key,
            )
            con.execute(f"DROP TABLE checked_{field}")
        con.execute(f"DROP TABLE distinct_{field}")
    log.info(
        "contact checks: %d e-mails and %d phones by the SQL fast path, %d in Python",
        counts["email"][0],
        counts["phone"][0],
        counts["email"][1] + counts["phone"][1],
    )


def _check_new_values(con: duckdb.DuckDBPyConnection, field: str, region: str) -> tuple[int, int]:
    """``checked_<field>(raw, raw_hash, value, warning, answered)`` for the values not in ``norm_<field>``:
    the SQL fast path (a struct: answered, value, warning) answers what it can, Python the rest. Returns
    how many each answered."""
    # Imported here: email-validator and phonenumbers cost every run start-up time, and only a run with
    # values never checked before needs them.
    from target_bloomz.contacts import rules, sql_rules

    if field == "email":
        fast, normalize = sql_rules.email_check("raw"), rules.normalize_email
    else:
        fast = sql_rules.phone_check("raw", region)
        normalize = functools.partial(rules.normalize_phone, region=region)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE checked_{field} AS SELECT raw, raw_hash, fast.value, fast.warning, "
        f"fast.answered FROM (SELECT raw, raw_hash, {fast} AS fast "
        f"FROM distinct_{field} ANTI JOIN norm_{field} USING (raw))"
    )
    sql = f"SELECT raw FROM checked_{field} WHERE NOT answered"
    raws = [row[0] for row in con.execute(sql).fetchall()]
    results = [normalize(raw) for raw in raws]
    table_from_lists(
        con,
        f"python_{field}",
        {
            "raw": ("VARCHAR", raws),
            "value": ("VARCHAR", [r.value for r in results]),
            "warning": ("VARCHAR", [r.warning for r in results]),
        },
    )
    con.execute(
        f"UPDATE checked_{field} c SET value = p.value, warning = p.warning "
        f"FROM python_{field} p WHERE c.raw = p.raw; DROP TABLE python_{field}"
    )
    row = con.execute(f"SELECT count(*) FROM checked_{field}").fetchone()
    return (row[0] if row else 0) - len(raws), len(raws)


CHECK_COLUMNS = (
    "field VARCHAR NOT NULL, region VARCHAR NOT NULL, raw_hash VARCHAR NOT NULL, "
    "value VARCHAR, warning VARCHAR"
)


def _has_contact_checks(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'contact_checks'"
    ).fetchone()
    return bool(row and row[0])
