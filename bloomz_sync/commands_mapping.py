"""bloomz-sync commands — Mapping files: validate."""

from __future__ import annotations

import click
import yaml
from target_bloomz.mapping import Mapping, MappingError, check, load_mapping
from target_bloomz.mapping.yaml_file import display_path

from bloomz_sync import tap_records


@click.group(name="mapping")
def mapping_group() -> None:
    """Check mapping files (mappings/*.yml) without running anything."""


@mapping_group.command(name="validate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--show", is_flag=True, help="Also print the resolved mapping (the extends chain merged) as YAML."
)
@click.option(
    "--tap",
    "tap_command",
    metavar="COMMAND",
    help='Also check against the source: run this tap (e.g. "meltano invoke tap-clever") and check the '
    "school ids, every section's class name and the rules against its records.",
)
@click.option(
    "--batch-root",
    metavar="URL",
    help="Where the tap writes BATCH files (its batch_config.storage.root); default .meltano/batches in "
    "the Meltano project.",
)
def validate(file: str, show: bool, tap_command: str | None, batch_root: str | None) -> None:
    """Validate FILE and the files it extends, and render its templates; exit 1 with file:line: key:
    message for each problem. Warnings (a rule that matches nothing) do not change the exit code."""
    try:
        mapping = load_mapping(file)
    except MappingError as error:
        click.echo(str(error), err=True)
        raise SystemExit(1) from error
    findings = check.check_templates(mapping)
    if tap_command:
        try:
            source = tap_records.read_tap(tap_command, batch_root or tap_records.default_batch_root())
        except tap_records.SourceUnreadable as error:
            findings.warnings.append(f"source not checked: {error}")
        else:
            checked = check.check_source(mapping, source)
            findings.problems += checked.problems
            findings.warnings += checked.warnings
    elif findings.extra_fields:
        names = ", ".join(sorted(findings.extra_fields))
        findings.warnings.append(f"{names}: whether the source has it is checked only with --tap")
    for line in [*findings.problems, *(f"warning: {w}" for w in findings.warnings)]:
        click.echo(line, err=True)
    if findings.problems:
        raise SystemExit(1)
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
