"""A running console over a copy of the committed project, pointed at the demo-district sandbox, and a
real browser.

The browser is Debian's Chromium driven by Playwright (never `playwright install`); CI installs it
(.ci/run), so there a missing browser fails the tests instead of skipping them.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator

import pytest
from roster_sandbox.testing import Sandbox, free_port

from tests.support.console import CHROMIUM, PASSWORD, USER, RunningConsole, wait_for
from tests.support.project import BIN, meltano_env, pristine_project


@pytest.fixture(scope="module")
def console_server(
    tmp_path_factory: pytest.TempPathFactory, demo_sandbox: Sandbox
) -> Iterator[RunningConsole]:
    """``bloomz-sync console`` on a free loopback port, over a copy of meltano.yml, with one user."""
    root = pristine_project(tmp_path_factory.mktemp("console-project"))
    env = meltano_env(
        # tap-clever's settings for the sandbox, as scripts/demo points them (its district token is typed
        # into the console like a real district's)
        TAP_CLEVER_API_URL=demo_sandbox.clever_api_url,
        TAP_CLEVER_OAUTH_TOKENS_URL=demo_sandbox.oauth_tokens_url,
    )
    database = root / "data" / "bloomz.duckdb"
    subprocess.run(
        [str(BIN / "bloomz-sync"), "console", "add-user", USER, "--password-stdin", "--project", str(root)],
        input=PASSWORD + "\n",
        text=True,
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    process = subprocess.Popen(
        [
            str(BIN / "bloomz-sync"),
            "--database",
            str(database),
            "console",
            "--project",
            str(root),
            "--port",
            str(port),
            "--max-upload-mb",
            "5",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(root / "console.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url, process, root / "console.log")
        yield RunningConsole(url=url, root=root, database=database, env=env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # stopped as an admin stops it: cleanly, without a traceback (uvicorn ends by the signal it was sent)
    log = (root / "console.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert process.returncode in (0, -signal.SIGTERM), log[-3000:]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        pytest.fail("chromium is not installed: CI installs it (.ci/run); Debian: apt-get install chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()
