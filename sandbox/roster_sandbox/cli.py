"""roster-sandbox command line."""

import click


@click.group()
def main() -> None:
    """A local Clever v3 and OneRoster server for tests, demos and benchmarks."""
