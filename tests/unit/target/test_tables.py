"""tables.py says which step writes and reads which table; the code must agree with it.

The static check reads the SQL in each step's modules: every run table (by its step prefix) and every
store table it names must be declared for that step. A table a step starts to use without saying so fails
here, naming the step, the module and the table.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import duckdb
import pytest
import target_bloomz
from target_bloomz import tables
from target_bloomz.apply import journal
from target_bloomz.store import duckdb_store

from roster_streams.contract import STREAMS

PACKAGE = Path(target_bloomz.__file__).parent
_NAMED = re.compile(
    r"\b(?:FROM|JOIN|INTO|UPDATE|USING|TABLE|EXISTS)\s+(?:IF NOT EXISTS\s+)?"
    r"([a-z_]+(?:\{[a-z_]+\}[a-z_]*)?)(?![\w{])",
    re.IGNORECASE,
)
_FSTRING = {"{stream}": "<stream>", "{field}": "<field>", "{table}": "<table>"}


@functools.cache
def store_tables() -> set[str]:
    with duckdb.connect() as con:
        duckdb_store.upgrade(con)
        names = {name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    return {"src_<stream>" if name.removeprefix("src_") in STREAMS else name for name in names}


def named_tables(module: str) -> set[str]:
    """The run and store tables a module's SQL names, f-string placeholders as tables.py writes them."""
    store = store_tables()
    found = set()
    for match in _NAMED.finditer((PACKAGE / module).read_text()):
        name = match.group(1)
        for fstring, placeholder in _FSTRING.items():
            name = name.replace(fstring, placeholder)
        if name.startswith(tables.RUN_PREFIXES) or name in store:
            found.add(name)
    return found


@pytest.mark.parametrize("step", tables.STEPS, ids=lambda s: s.name)
def test_each_step_names_only_the_tables_declared_for_it(step: tables.Step) -> None:
    declared = {*step.writes, *step.reads, *step.scratch, *step.store}
    for module in step.modules:
        undeclared = {
            name
            for name in named_tables(module)
            if name not in declared and not any(tables.matches(n, (*declared,)) for n in tables.expand(name))
        }
        assert not undeclared, f"{step.name}: {module} names {sorted(undeclared)}, not declared in tables.py"


def test_every_module_with_sql_belongs_to_a_step_or_is_a_known_reader() -> None:
    """New SQL goes into a step (or one of the admin's readers and actions), so this file stays whole."""
    stepped = {module for step in tables.STEPS for module in step.modules}
    readers = {  # admin actions and readers outside an import: they read and edit the store only
        "control/edits.py",
        "control/undo.py",
        "control/held_runs.py",
        "report/explain.py",
        "report/lookup.py",
        "store/duckdb_store.py",
        "store/mirror_tables.py",
        "pipeline/import_pipeline.py",
        "pipeline/lock_scope.py",
        "rundb.py",
    }
    with_sql = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(name.startswith(tables.RUN_PREFIXES) for name in named_tables(str(path.relative_to(PACKAGE))))
    }
    assert with_sql <= stepped | readers


def test_a_saved_plan_keeps_what_apply_reads_and_no_scratch() -> None:
    kept = [name for pattern in tables.step("apply").reads for name in tables.expand(pattern)]
    assert all(tables.kept_by_a_saved_plan(name) for name in kept), kept
    scratch = [name for step in tables.STEPS for pattern in step.scratch for name in tables.expand(pattern)]
    assert not any(tables.kept_by_a_saved_plan(name) for name in scratch)
    assert tables.read_by_apply() >= {"p_people", "p_classes", "p_community_sources"}


def test_the_journal_covers_the_tables_declared() -> None:
    assert set(journal.TABLES) == set(tables.JOURNALED)


def test_the_architecture_page_shows_the_declaration() -> None:
    page = (Path(__file__).parents[3] / "docs" / "architecture.md").read_text()
    assert tables.markdown() in page, "regenerate it: python -m target_bloomz.tables"
