"""bloomz-sync: the admin CLI for the Bloomz store.

Each area of the product keeps its commands in its own module (``commands_*.py``), each exporting a
``commands`` list; this file only assembles them and owns the options every command shares.
"""

from __future__ import annotations

import click
from bloomz_console.cli import console

from bloomz_sync import commands_edit, commands_mapping, commands_people, commands_store
from plugin_runtime import executables, private

DEFAULT_DATABASE = "data/bloomz.duckdb"


@click.group(cls=executables.Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database",
    envvar="BLOOMZ_DATABASE",
    default=DEFAULT_DATABASE,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The Bloomz store (DuckDB file). Also read from BLOOMZ_DATABASE.",
)
@click.pass_context
def main(ctx: click.Context, database: str) -> None:
    """Inspect and manage what bloomz-sync imported into the Bloomz store."""
    ctx.obj = {"database": database}
    private.sweep_spools()  # the spools of imports that were killed (private.py)


for _module in (commands_mapping, commands_store, commands_edit, commands_people):
    for _command in _module.commands:
        main.add_command(_command)
main.add_command(console)  # the admin console (console/bloomz_console)
