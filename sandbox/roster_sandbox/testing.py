"""Run a real sandbox server from tests: ``with run_sandbox(dir) as sandbox: ...``.

The server is the ``roster-sandbox serve`` command in a subprocess on a free 127.0.0.1 port. The default
credentials are the ``serve`` defaults: token ``sandbox-district-token``, client id ``sandbox-client-id``,
client secret ``sandbox-client-secret``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from roster_sandbox import state as defaults

ONEROSTER_VERSIONS = ("1.1", "1.2")


class SandboxStartError(RuntimeError):
    """The server did not come up; the message carries its own error output."""


@dataclass
class Sandbox:
    """A running sandbox and everything a client needs to reach it."""

    url: str
    token: str = defaults.DEFAULT_TOKEN
    client_id: str = defaults.DEFAULT_CLIENT_ID
    client_secret: str = defaults.DEFAULT_CLIENT_SECRET
    oneroster_11_base: str = defaults.ONEROSTER_11_BASE
    oneroster_12_base: str = defaults.ONEROSTER_12_BASE
    oneroster_token_path: str = defaults.ONEROSTER_TOKEN_PATH
    data_dir: Path = field(default_factory=Path)

    @property
    def clever_api_url(self) -> str:
        """The root under which /v3.0/... lives (tap-clever's ``api_url``)."""
        return self.url

    @property
    def oauth_tokens_url(self) -> str:
        """Clever's token listing (GET with Basic client_id:client_secret)."""
        return f"{self.url}/oauth/tokens"

    def oneroster_base_url(self, version: str) -> str:
        if version == "1.1":
            return self.url + self.oneroster_11_base
        if version == "1.2":
            return self.url + self.oneroster_12_base
        raise ValueError(f"OneRoster version must be one of {ONEROSTER_VERSIONS}, got {version!r}")

    @property
    def oneroster_token_url(self) -> str:
        """The OAuth 2 client-credentials token endpoint (POST)."""
        return self.url + self.oneroster_token_path

    def set_faults(self, *rules: dict[str, Any], seed: int = 0) -> dict[str, Any]:
        """Replace the active faults, e.g. ``set_faults({"kind": "status", "status": 503, "count": 2})``.

        Fields of a rule: kind (status, rate_limit, slow, cut, html, expire_tokens, body, redirect, endless),
        status, path (prefix), after, count (None: forever), probability, delay, reset_after, body,
        content_type, location. See roster_sandbox.faults.
        """
        response = requests.post(
            f"{self.url}/_sandbox/faults", json={"seed": seed, "rules": list(rules)}, timeout=10
        )
        if response.status_code != 200:
            raise ValueError(response.json()["message"])
        result: dict[str, Any] = response.json()
        return result

    def faults(self) -> dict[str, Any]:
        """The active rules with how many times each fired."""
        result: dict[str, Any] = requests.get(f"{self.url}/_sandbox/faults", timeout=10).json()
        return result

    def clear_faults(self) -> None:
        requests.delete(f"{self.url}/_sandbox/faults", timeout=10).raise_for_status()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def run_sandbox(
    data_dir: Path | str, startup_timeout: float = 60.0, **serve_options: Any
) -> Iterator[Sandbox]:
    """Start ``roster-sandbox serve`` for a directory, wait until it answers, yield a Sandbox, stop it.

    ``serve_options`` are the serve command's options in Python spelling: ``token="t"``, ``rate_limit=0``,
    ``max_page=50``, ``total_count=False``, ``fault=["status:status=503"]`` ...
    """
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "roster_sandbox",
        "serve",
        "--port",
        str(port),
        "--clever-data",
        str(data_dir),
    ]
    args += _option_args(serve_options)
    sandbox = Sandbox(url=f"http://127.0.0.1:{port}", data_dir=Path(data_dir))
    for name in ("token", "client_id", "client_secret", "oneroster_11_base", "oneroster_12_base"):
        if name in serve_options:
            setattr(sandbox, name, str(serve_options[name]).rstrip("/"))
    if "oneroster_token_path" in serve_options:
        sandbox.oneroster_token_path = serve_options["oneroster_token_path"]
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=errors, env=os.environ.copy())
        try:
            _wait_until_up(sandbox.url, process, errors, startup_timeout)
            yield sandbox
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _option_args(options: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + name.replace("_", "-"))
        elif isinstance(value, list | tuple):
            for item in value:
                args += [flag, str(item)]
        else:
            args += [flag, str(value)]
    return args


def _wait_until_up(url: str, process: subprocess.Popen[bytes], errors: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            errors.seek(0)
            raise SandboxStartError(
                f"roster-sandbox serve exited with {process.returncode}: {errors.read().decode()}"
            )
        try:
            if requests.get(f"{url}/_sandbox/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    process.kill()
    raise SandboxStartError(f"roster-sandbox serve did not answer on {url} within {timeout} s")
