"""The console under test: its user, how to reach it, and what the console tests do again and again (sign in,
wait for an import, take a picture).

The browser is Debian's Chromium driven by Playwright (never `playwright install`); CI installs it
(.ci/run), so there a missing browser fails the tests instead of skipping them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.support.district import query
from tests.support.project import BIN, REPO_ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
USER, PASSWORD = "admin", "correct horse battery"
SHOTS = REPO_ROOT / "output" / "console-screenshots"  # kept after the run, to look at (output/ is ignored)

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="chromium is not installed (Debian: apt-get install chromium)",
)


@dataclass
class RunningConsole:
    url: str
    root: Path
    database: Path
    env: dict[str, str]

    def meltano(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "meltano"), *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the console exited: {log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/login", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.2)
    pytest.fail("the console did not answer within 60 s")


IMPORT_TIMEOUT = 600_000  # ms: a meltano run (20 s alone) on a 2-core machine loaded by others
STEP_TIMEOUT = 120_000  # ms: a page that calls Meltano (linking calls it twice) on a loaded machine


def new_page(browser: Any) -> Any:
    """A page of the size the screenshots show, patient enough for a busy machine (its steps and the
    ``expect`` assertions alike: theirs default to 5 s)."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(STEP_TIMEOUT)
    expect.set_options(timeout=STEP_TIMEOUT)
    return page


def sign_in(page: Any, url: str) -> None:
    page.goto(url + "/")
    page.fill("#username", USER)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Signed in as admin")


def shot(page: Any, tmp_path: Path, name: str, *, full_page: bool = True) -> Path:
    """A screenshot (the whole page, or what the window shows), in the test's folder and under output/ to
    look at after the run."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / path.name).write_bytes(path.read_bytes())
    return path


def wait_for_counts(page: Any) -> None:
    """The district page until the source snapshot filled in the schools' counts."""
    deadline = time.monotonic() + 600  # the source read in full: 30 s alone, far more on a loaded machine
    while page.locator("text=counting…").count() and time.monotonic() < deadline:
        page.wait_for_timeout(1000)
        page.reload()
    assert not page.locator("text=counting…").count(), "the school counts never came"


def press_and_watch(
    page: Any, mode: str, tmp_path: Path, picture: str | None = None, switches: tuple[str, ...] = ()
) -> str:
    """Import Now, then in its dialog tick ``switches`` (full_data, archive, ...) and press Preview (mode
    "preview") or Save ("import"); see "Sync in progress"; wait until the page shows how it ended and
    return that (the status the store recorded for the run)."""
    open_import_dialog(page)
    for switch in switches:
        page.check(f"#import input[name={switch}]")
    page.click(f"#import button[value={mode}]")
    page.wait_for_selector("#sync >> text=Sync in progress")
    if picture:
        shot(page, tmp_path, picture, full_page=False)
    page.wait_for_selector("#last-task", timeout=IMPORT_TIMEOUT)
    return str(page.inner_text("#task-outcome"))


def shown_count(page: Any, what: str, action: str) -> int:
    """A figure of a run page's "What changed" table (what: classes, students...; action: added...)."""
    return int(page.inner_text(f"#counts tr[data-what={what}] td[data-action={action}]"))


def open_import_dialog(page: Any) -> None:
    page.click("#open-import")
    page.wait_for_selector("#import-dialog[open]")


def csrf_of(page: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "every page of a signed-in user carries a CSRF token"
    return found[1]


def meltano_state(console: RunningConsole, state_id: str) -> dict[str, Any]:
    """Meltano's state of a job, as `meltano state get` prints it ({} before any)."""
    got = console.meltano("state", "get", state_id)
    assert got.returncode == 0, got.stderr[-2000:]
    found: dict[str, Any] = json.loads(got.stdout)
    return found


def clear_meltano_state(console: RunningConsole, state_id: str) -> None:
    """Forget a job's state. A full pull's bookmarks are the same every night, so a test that checks
    Approve sets the held run's state starts the job from none (else it could not tell)."""
    cleared = console.meltano("state", "clear", "--force", state_id)
    assert cleared.returncode == 0, cleared.stderr[-2000:]
    assert meltano_state(console, state_id) == {}


def held_state(database: Path, run_id: int) -> dict[str, Any]:
    """A held run's Singer state, as `meltano state set` takes it."""
    (saved,) = query(database, "SELECT singer_state FROM runs WHERE id = ?", [run_id])[0]
    return {"singer_state": json.loads(saved)}


def login(console: RunningConsole, then: str = "/") -> tuple[requests.Session, requests.Response]:
    session = requests.Session()
    token = csrf_of(session.get(console.url + "/login", timeout=10).text)
    data = {"csrf": token, "username": USER, "password": PASSWORD, "next": then}
    return session, session.post(console.url + "/login", data=data, allow_redirects=False, timeout=30)


def signed_in(console: RunningConsole) -> tuple[requests.Session, str]:
    """A session signed in as the console's user, and its CSRF token."""
    session, answer = login(console)
    assert answer.status_code == 303
    home = session.get(console.url + answer.headers["location"], timeout=30)
    assert "Signed in as admin" in home.text
    return session, csrf_of(home.text)
