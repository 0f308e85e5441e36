"""bloomz-sync commands — Mapping files: validate."""

from __future__ import annotations

import click
import yaml
from target_bloomz.mapping import Mapping, MappingError, load_mapping
from target_bloomz.mapping_file import display_path


@click.group(name="mapping")
def mapping_group() -> None:
    """Check mapping files (mappings/*.yml) without running anything."""


@mapping_group.command(name="validate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--show", is_flag=True, help="Also print the resolved mapping (the extends chain merged) as YAML."
)
def validate(file: str, show: bool) -> None:
    """Validate FILE and the files it extends; exit 1 with file:line: key: message when it is wrong."""
    try:
        mapping = load_mapping(file)
    except MappingError as error:
        click.echo(str(error), err=True)
        raise SystemExit(1) from error
    click.echo(_summary(mapping))
    if show:
        click.echo(yaml.safe_dump(mapping.resolved, sort_keys=False, allow_unicode=True), nl=False)


def _summary(mapping: Mapping) -> str:
    chain = " → ".join(display_path(path) for path in mapping.files)
    rules = len(mapping.resolved["sections"]["rules"])
    return (
        f"{display_path(mapping.path)}: valid ({chain}); source {mapping.source}; "
        f"students by {mapping.student_id_field}; "
        f"parents from {mapping.contact_field} in {', '.join(mapping.contact_include) or '(none)'}; "
        f"{rules} section rule{'s' if rules != 1 else ''}"
    )


commands: list[click.Command] = [mapping_group]
