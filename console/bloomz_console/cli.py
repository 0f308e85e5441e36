"""``bloomz-sync console``: serve the admin console; ``bloomz-sync console add-user``: let someone in."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import click

from bloomz_console import auth
from bloomz_console.project import Project

LOOPBACK_NAMES = ("localhost",)


def _project(ctx: click.Context, root: Path, environment: str | None) -> Project:
    if not (root / "meltano.yml").is_file():
        raise click.ClickException(f"{root} is not a Meltano project (no meltano.yml): pass --project DIR")
    database = Path(ctx.find_root().obj["database"])
    return Project(
        root=root.resolve(),
        database=(database if database.is_absolute() else root / database).resolve(),
        environment=environment,
    )


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_project_option = click.option(
    "--project",
    "root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=".",
    show_default=True,
    help="The Meltano project (the folder of meltano.yml).",
)


@click.group(name="console", invoke_without_command=True)
@_project_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8780, show_default=True)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Listen on a non-loopback --host. Put a TLS proxy in front: the console shows children's data.",
)
@click.option("--environment", help="The Meltano environment for imports and settings (default: Meltano's).")
@click.option(
    "--max-upload-mb",
    type=click.IntRange(1, 4096),
    default=200,
    show_default=True,
    help="Largest CSV bundle upload.",
)
@click.pass_context
def console(
    ctx: click.Context,
    root: Path,
    host: str,
    port: int,
    allow_remote: bool,
    environment: str | None,
    max_upload_mb: int,
) -> None:
    """Serve the admin console (the seeds' Bulk Import settings page) over this project and its store."""
    if ctx.invoked_subcommand is not None:
        return
    if not is_loopback(host) and not allow_remote:
        raise click.ClickException(
            f"--host {host} is not a loopback address: the console shows children's data, so it listens on "
            "loopback unless you also pass --allow-remote (and put a TLS proxy in front of it)"
        )
    project = _project(ctx, root, environment)
    if not auth.users(project.state_dir):
        raise click.ClickException("no console user yet: create one with `bloomz-sync console add-user NAME`")
    import uvicorn

    from bloomz_console.app import create_app

    hosts = ["127.0.0.1", "localhost", "[::1]", "::1"] if is_loopback(host) else ["*"]
    app = create_app(project, allowed_hosts=hosts, max_upload=max_upload_mb * 2**20)
    click.echo(
        f"bloomz-sync console on http://{host}:{port} (project {project.root}, store {project.database})"
    )
    uvicorn.run(
        app, host=host, port=port, log_level="warning", server_header=False, timeout_graceful_shutdown=5
    )


@console.command(name="add-user")
@_project_option
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@click.pass_context
def add_user(ctx: click.Context, root: Path, name: str, password_stdin: bool) -> None:
    """Create console user NAME, or set a new password for it."""
    project = _project(ctx, root, None)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        new = auth.add_user(project.state_dir, name, password)
    except auth.AuthError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"{'created' if new else 'changed the password of'} console user {name}")
