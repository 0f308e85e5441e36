"""bloomz-sync commands — Edits as the Bloomz app makes them (rename, archive, members, roles) and run control (approve, discard, undo)."""

from __future__ import annotations

import click

commands: list[click.Command] = []
