"""bloomz-sync commands — The store and its import runs: status, runs, plan, export."""

from __future__ import annotations

import click

commands: list[click.Command] = []
