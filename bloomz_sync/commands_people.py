"""bloomz-sync commands — People: invitations, family codes, reports, explain."""

from __future__ import annotations

import click

commands: list[click.Command] = []
