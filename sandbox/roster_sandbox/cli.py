"""roster-sandbox command line."""

from __future__ import annotations

from pathlib import Path

import click

from plugin_runtime import executables
from roster_sandbox import state as defaults
from roster_sandbox.faults import FaultRule


@click.group(cls=executables.Group)
def main() -> None:
    """A local Clever v3 and OneRoster server for tests, demos and benchmarks."""


@main.command()
@click.option("--port", type=int, default=8765, show_default=True, help="Port on 127.0.0.1.")
@click.option(
    "--clever-data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="A district directory in Clever's dump format (users.json, sections.json, districts.json, ...).",
)
@click.option(
    "--token", default=defaults.DEFAULT_TOKEN, show_default=True, help="The Clever district bearer token."
)
@click.option(
    "--client-id",
    default=defaults.DEFAULT_CLIENT_ID,
    show_default=True,
    help="Client id for Clever's /oauth/tokens (Basic), OneRoster OAuth 2 and OAuth 1.0a consumer key.",
)
@click.option(
    "--client-secret",
    default=defaults.DEFAULT_CLIENT_SECRET,
    show_default=True,
    help="The matching client secret.",
)
@click.option(
    "--scopes",
    default=",".join(defaults.CLEVER_SCOPES),
    show_default=True,
    help="Comma-separated scopes the Clever token was granted (records of missing scopes are hidden).",
)
@click.option(
    "--rate-limit", type=int, default=1200, show_default=True, help="Clever requests/minute/token; 0: off."
)
@click.option("--oneroster-11-base", default=defaults.ONEROSTER_11_BASE, show_default=True)
@click.option("--oneroster-12-base", default=defaults.ONEROSTER_12_BASE, show_default=True)
@click.option("--oneroster-token-path", default=defaults.ONEROSTER_TOKEN_PATH, show_default=True)
@click.option(
    "--token-lifetime", type=int, default=3600, show_default=True, help="OAuth 2 token lifetime, seconds."
)
@click.option(
    "--max-page", type=int, default=0, show_default=True, help="Clamp OneRoster limit to this; 0: no clamp."
)
@click.option(
    "--total-count/--no-total-count", default=True, show_default=True, help="Send OneRoster X-Total-Count."
)
@click.option(
    "--link-header/--no-link-header", default=True, show_default=True, help="Send OneRoster Link headers."
)
@click.option("--fault", "faults", multiple=True, help="A fault rule KIND[:key=value,...]; repeatable.")
@click.option("--fault-seed", type=int, default=0, show_default=True)
def serve(
    port: int,
    data_dir: Path,
    token: str,
    client_id: str,
    client_secret: str,
    scopes: str,
    rate_limit: int,
    oneroster_11_base: str,
    oneroster_12_base: str,
    oneroster_token_path: str,
    token_lifetime: int,
    max_page: int,
    total_count: bool,
    link_header: bool,
    faults: tuple[str, ...],
    fault_seed: int,
) -> None:
    """Serve a district directory over Clever v3.0 and OneRoster 1.1/1.2 on 127.0.0.1.

    \b
    Clever:      GET /v3.0/...  (Bearer --token), GET /oauth/tokens (Basic --client-id:--client-secret)
    OneRoster:   --oneroster-11-base/..., --oneroster-12-base/...  (OAuth 2 Bearer or OAuth 1.0a HMAC-SHA256)
    OAuth 2:     POST --oneroster-token-path  (client credentials)
    Admin:       GET/POST/DELETE /_sandbox/faults, GET /_sandbox/health

    The directory is served as it is on disk: a file changed by `advance` is picked up by the next request.
    """
    import uvicorn

    from roster_sandbox.app import build_app
    from roster_sandbox.state import SandboxState, Settings

    settings = Settings(
        data_dir=data_dir,
        token=token,
        client_id=client_id,
        client_secret=client_secret,
        scopes=tuple(s.strip() for s in scopes.split(",") if s.strip()),
        rate_limit=rate_limit,
        oneroster_11_base=oneroster_11_base.rstrip("/"),
        oneroster_12_base=oneroster_12_base.rstrip("/"),
        oneroster_token_path=oneroster_token_path,
        token_lifetime=token_lifetime,
        max_page=max_page,
        total_count_header=total_count,
        link_header=link_header,
    )
    rules = [FaultRule.parse(text) for text in faults]
    state = SandboxState.create(settings)
    state.faults.set(rules, fault_seed)
    uvicorn.run(build_app(state), host="127.0.0.1", port=port, log_level="warning", access_log=False)


@main.command()
@click.argument("size", type=click.Choice(["tiny", "small", "large", "huge", "many"]))
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Directory to write."
)
def generate(size: str, seed: int, out: Path) -> None:
    """Write a deterministic synthetic district in Clever's dump format.

    tiny ≈ 50 students in 2 schools, small ≈ 3,000, large ≈ 100,000, huge ≈ 500,000
    (huge is streamed out: bounded memory); many = 100 small schools of 300 students (one job each).
    """
    from roster_sandbox.generate import generate as make

    counts = make(size, seed, out)
    click.echo(
        f"{out}: {counts.schools} schools, {counts.students} students, {counts.teachers} teachers, "
        f"{counts.staff} staff, {counts.contacts} contacts, {counts.sections} sections, "
        f"{counts.enrollments} enrollments"
    )


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--change", type=float, default=2.0, show_default=True, help="Percent of students that change.")
@click.option("--seed", type=int, default=1, show_default=True)
def advance(directory: Path, change: float, seed: int) -> None:
    """Move a district directory to the next night and append the matching Clever events to events.json."""
    from roster_sandbox.advance import advance as step

    night = step(directory, change, seed)
    summary = ", ".join(f"{what}: {n}" for what, n in night.counts.items())
    click.echo(f"{directory}: night of {night.when}; {night.events} events ({summary})")


@main.command("export-csv")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--version", "version", type=click.Choice(["1.1", "1.2"]), required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="A .zip file, or else a folder.")
@click.option("--delta-since", default=None, help="Write a delta of what changed after this ISO date-time.")
@click.option(
    "--shapes",
    type=click.Choice(["plain", "hard"]),
    default="plain",
    show_default=True,
    help="hard: the shapes real exports have (departments, district-level teachers, staff who are guardians, "
    "several roles, classes tobedeleted or without a teacher, teachers enrolled as students, a vendor "
    "role, title-case classType, headers ending in empty columns, day-first dates).",
)
def export_csv(directory: Path, version: str, out: Path, delta_since: str | None, shapes: str) -> None:
    """Write the district as a OneRoster CSV bundle (bulk, or delta with --delta-since)."""
    from roster_sandbox.csv_export import export

    counts = export(directory, version, out, delta_since, shapes)
    click.echo(f"{out}: " + ", ".join(f"{name}.csv {n} rows" for name, n in counts.items()))
