"""bloomz-sync commands: edits as the Bloomz app makes them, run control (approve, discard, undo), and a
school community's move to another source (move-school).

The logic lives in target_bloomz (control/); these commands open the store, call it, and turn its
refusals into clear messages and a non-zero exit code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import duckdb
from target_bloomz import store
from target_bloomz.control import edits, held_runs, undo
from target_bloomz.control import move_school as moving
from target_bloomz.mapping import MappingError
from target_bloomz.store import locks


@contextmanager
def _store(ctx: click.Context) -> Iterator[duckdb.DuckDBPyConnection]:
    database = Path(ctx.obj["database"])
    if not database.exists():
        raise click.ClickException(f"no Bloomz store at {database} (run an import first, or pass --database)")
    try:
        con = store.connect(database)
    except (store.StoreError, duckdb.Error) as err:
        if locks.is_store_busy(err):  # an import has the store open: say which, not DuckDB's lock error
            raise click.ClickException(locks.busy_message(database)) from None
        raise click.ClickException(str(err)) from err
    try:
        yield con
    except (
        edits.EditError,
        held_runs.ApprovalError,
        undo.UndoError,
        locks.SyncInProgress,
        MappingError,
        FileNotFoundError,
        LookupError,  # a school or person that names nothing, or several (target_bloomz.lookup)
    ) as err:
        raise click.ClickException(str(err)) from err
    finally:
        con.close()


def _edit_command(name: str, doc: str, func: Callable[..., str], *args: click.Argument) -> click.Command:
    def callback(**kwargs: Any) -> None:
        ctx = click.get_current_context()
        with _store(ctx) as con:
            click.echo(func(con, *kwargs.values()))

    return click.Command(name, callback=callback, params=list(args), help=doc)


_CLASS = click.Argument(["class_ref"], metavar="CLASS")
_PERSON = click.Argument(["person_ref"], metavar="PERSON")

rename_class = _edit_command(
    "rename-class",
    "Rename CLASS (class id or section id) to NAME, as in Bloomz: the sync keeps the new name.",
    edits.rename_class,
    _CLASS,
    click.Argument(["name"]),
)
archive_class = _edit_command(
    "archive-class",
    "Archive CLASS: the sync skips it unless recreate_archived is on.",
    edits.archive_class,
    _CLASS,
)
revive_class = _edit_command("revive-class", "Revive an archived CLASS.", edits.revive_class, _CLASS)
delete_class = _edit_command(
    "delete-class",
    "Delete CLASS and its members: a synced class comes back with the next sync.",
    edits.delete_class,
    _CLASS,
)


@click.command("add-member")
@click.argument("class_ref", metavar="CLASS")
@click.argument("person_ref", metavar="PERSON")
@click.option("--role", type=click.Choice(edits.CLASS_ROLES), default="teacher", show_default=True)
@click.pass_context
def add_member(ctx: click.Context, class_ref: str, person_ref: str, role: str) -> None:
    """Add PERSON (person id, source id or e-mail) to CLASS by hand (origin manual), e.g. a co-teacher."""
    with _store(ctx) as con:
        click.echo(edits.add_member(con, class_ref, person_ref, role))


remove_member = _edit_command(
    "remove-member", "Remove PERSON from CLASS by hand.", edits.remove_member, _CLASS, _PERSON
)


@click.command("set-role")
@click.argument("community")
@click.argument("person_ref", metavar="PERSON")
@click.argument("role", type=click.Choice(edits.COMMUNITY_ROLES))
@click.pass_context
def set_role(ctx: click.Context, community: str, person_ref: str, role: str) -> None:
    """Raise or lower PERSON's ROLE in COMMUNITY (key, name or a source school id) by hand: the sync
    keeps it."""
    with _store(ctx) as con:
        click.echo(edits.set_role(con, community, person_ref, role))


register = _edit_command(
    "register", "Mark PERSON registered (signed up in Bloomz).", edits.mark_registered, _PERSON
)


@click.command()
@click.argument("run_id", type=int, metavar="RUN")
@click.option(
    "--state-id", help="The Meltano state id of the job, to print the exact `meltano state set` line."
)
@click.pass_context
def approve(ctx: click.Context, run_id: int, state_id: str | None) -> None:
    """Apply held RUN (re-planned against the store as it is now)."""
    with _store(ctx) as con:
        click.echo(held_runs.approve(con, Path(ctx.obj["database"]), run_id).text(state_id))


@click.command()
@click.argument("run_id", type=int, metavar="RUN")
@click.pass_context
def discard(ctx: click.Context, run_id: int) -> None:
    """Drop held RUN: nothing of it is applied."""
    with _store(ctx) as con:
        click.echo(held_runs.discard(con, Path(ctx.obj["database"]), run_id))


@click.command("undo")
@click.argument("run_id", type=int, metavar="RUN")
@click.pass_context
def undo_run(ctx: click.Context, run_id: int) -> None:
    """Revert applied RUN from its journal; say what could not be reverted."""
    with _store(ctx) as con:
        click.echo(undo.undo(con, run_id).text())


@click.command("move-school")
@click.argument("community", metavar="COMMUNITY")
@click.option("--to", "to", required=True, metavar="SOURCE:SCHOOL", help="The school in the new source.")
@click.option(
    "--match",
    type=click.Choice(["sis_id", "id"]),
    default="sis_id",
    show_default=True,
    help="How people and classes find their new ids: the old link's sis_id, or the same id.",
)
@click.pass_context
def move_school(ctx: click.Context, community: str, to: str, match: str) -> None:
    """Move school COMMUNITY (its key, name or a source school id) to another source's school, keeping its
    people and classes (docs/sources.md)."""
    with _store(ctx) as con:
        click.echo(moving.move_school(con, community, to, match))


commands: list[click.Command] = [
    rename_class,
    archive_class,
    revive_class,
    delete_class,
    add_member,
    remove_member,
    set_role,
    register,
    approve,
    discard,
    undo_run,
    move_school,
]
