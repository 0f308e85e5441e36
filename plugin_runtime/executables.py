"""What every executable shares: how its command ends on an expected failure, and owner-only files.

``singer_command`` wraps a Singer plugin's command (tap-clever, tap-oneroster, target-bloomz): an expected
failure (failures.py) is logged as ``<plugin> stopped: <message>``. ``Group`` is the click group of
``bloomz-sync`` and ``roster-sandbox``: click prints ``Error: <message>``. Both exit with 1; anything else
is a bug and keeps its traceback. At DEBUG log level (``LOGLEVEL=DEBUG``, or ``<PLUGIN>_LOGLEVEL=DEBUG``
for a Singer plugin) an expected failure's traceback is shown too. Both run the command under umask 077
(private.py).
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from plugin_runtime import private
from plugin_runtime.failures import debugging, describe


def singer_command(command: click.Command, logger: logging.Logger) -> click.Command:
    """A Singer plugin's command whose expected failures end with ``<plugin> stopped: <message>``, exit 1."""
    callback = command.callback
    if callback is None:
        return command

    def reported(*args: Any, **kwargs: Any) -> Any:
        try:
            with private.owner_only():
                return callback(*args, **kwargs)
        except Exception as error:
            message = describe(error)
            if message is None:
                raise
            if debugging(logger):
                logger.debug("traceback of the failure below", exc_info=error)
            logger.error("%s stopped: %s", command.name, message)
            sys.exit(1)

    command.callback = reported
    return command


@contextmanager
def connection_test(ctx: click.Context) -> Iterator[None]:
    """A tap's ``--test``: an expected failure ends it with ``Connection test failed: <message>``, exit 1."""
    try:
        yield
    except Exception as error:
        message = describe(error)
        if message is None:
            raise
        click.echo(f"Connection test failed: {message}", err=True)
        ctx.exit(1)


class Group(click.Group):
    """A click command group whose commands' expected failures end with ``Error: <message>``, exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with private.owner_only():
                return super().invoke(ctx)
        except Exception as error:
            message = describe(error)
            if message is None:
                raise
            if debugging():
                traceback.print_exception(error, file=sys.stderr)
            raise click.ClickException(message) from None
