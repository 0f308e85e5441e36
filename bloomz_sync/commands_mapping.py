"""bloomz-sync commands — Mapping files: validate."""

from __future__ import annotations

import click

commands: list[click.Command] = []
