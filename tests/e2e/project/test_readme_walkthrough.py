"""A newcomer's walk through the README on a fresh clone, its commands run as printed.

What it covers: a copy of the committed project (``git archive HEAD``, so nothing of the working copy),
the README's "activate" line, `meltano install` putting the plugins into the copy's own .meltano from the
copy itself (meltano.yml's pip_url), `meltano invoke tap-clever --about` and `--test`, the mapping check, the
dry run and the import, status, the report page, a district's per-school plugins, and the admin CLI's
grammar. Every command is looked up in README.md first, so the test fails when the README stops printing it.

What it does not: building `.venv` (scripts/demo's first step, minutes of pip; CI runs scripts/demo itself on
its fresh clone). The copy's `.venv` is a link to the environment running this test, which is what
`bash scripts/demo` would have built. One deviation from the printed commands: the sandbox listens on a free
port, not 8765 (other runs may hold it), and the taps are pointed at it as scripts/demo does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from roster_sandbox.testing import free_port

from tests.support.project import REPO_ROOT, committed_files

pytestmark = pytest.mark.e2e
README = (REPO_ROOT / "README.md").read_text()


class Shell:
    """Runs README lines in bash in the project folder, after `source .venv/bin/activate`."""

    def __init__(self, project: Path, env: dict[str, str]) -> None:
        self.project = project
        self.env = env

    def run(self, command: str, *, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        assert command in README, f"the README no longer prints: {command}"
        return subprocess.run(
            ["bash", "-c", f"source .venv/bin/activate && {command}"],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shell]:
    root = tmp_path_factory.mktemp("fresh-clone")
    project = committed_files(root / "bloomz-sync")
    (root / "shared").symlink_to(REPO_ROOT.parent / "shared")  # the README's ../shared
    (project / ".venv").symlink_to(Path(sys.prefix))  # what `bash scripts/demo` builds, see above
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TAP_", "TARGET_", "MELTANO_", "BLOOMZ_", "VIRTUAL_ENV"))
    }
    env |= {
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "TAP_CLEVER_API_URL": f"http://127.0.0.1:{port}",
        "TAP_CLEVER_OAUTH_TOKENS_URL": f"http://127.0.0.1:{port}/oauth/tokens",
    }
    serve = "roster-sandbox serve --port 8765 --clever-data ../shared/reference/clever/demo-district"
    assert serve in README
    sandbox = subprocess.Popen(
        ["bash", "-c", f"source .venv/bin/activate && exec {serve.replace('8765', str(port))}"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/_sandbox/health", sandbox)
        yield Shell(project, env)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)


def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        assert process.poll() is None, "the sandbox stopped"
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 (a loopback URL built above)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the sandbox did not answer at {url}")


def test_the_readme_walkthrough(shell: Shell) -> None:
    # Set-up: the plugins are installed the Meltano way, from the project itself.
    assert "`meltano install`" in README
    installed = shell.run("meltano install")
    assert installed.returncode == 0, installed.stderr[-3000:]
    venv = shell.project / ".meltano" / "extractors" / "tap-clever" / "venv"
    assert (venv / "bin" / "tap-clever").exists()
    assert "Installed 3/" in installed.stderr  # tap-clever, tap-oneroster, target-bloomz; the rest inherit

    about = shell.run("meltano invoke tap-clever --about")
    assert about.returncode == 0, about.stderr[-3000:]
    assert "district_token" in about.stdout

    test = shell.run("meltano invoke tap-clever --test")
    assert test.returncode == 0, test.stderr[-3000:]
    assert "District: #DEMO_DISTRICT" in test.stderr
    assert "  5a25ff950a5f621109000004  School 1  001  165 sections, 400 students, 44 teachers" in test.stderr
    assert "METRIC" not in test.stderr + test.stdout

    valid = shell.run("bloomz-sync mapping validate districts/lincoln-unified/mapping.yml")
    assert valid.returncode == 0, valid.stderr
    assert "valid" in valid.stdout

    dry = shell.run("TARGET_BLOOMZ_DRY_RUN=true meltano run tap-clever target-bloomz")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "(dry run: nothing applied)" in dry.stderr
    assert "progress: plan (4/5)" in dry.stderr

    imported = shell.run("meltano run tap-clever target-bloomz")
    assert imported.returncode == 0, imported.stderr[-3000:]
    assert "progress: apply (5/5)" in imported.stderr

    status = shell.run("bloomz-sync status")
    assert status.returncode == 0, status.stderr
    assert "Last Import Status of School 1 (clever:5a25ff950a5f621109000004)" in status.stdout

    report = shell.run("bloomz-sync report 2 --html report.html")
    assert report.returncode == 0, report.stderr
    page = (shell.project / "report.html").read_text()
    assert all(f"School {n}" in page for n in (1, 2, 3))

    role = shell.run('bloomz-sync set-role "School 1" braeden_glover@example.net "School Admin"')
    assert role.returncode == 0, role.stderr
    assert "→ School Admin" in role.stdout
    explained = shell.run("bloomz-sync explain clever:5a25ffb0c1bc2a00360003ed")
    assert explained.returncode == 0, explained.stderr
    assert "(student)" in explained.stdout

    school = shell.run("meltano run tap-clever-lincoln-elementary target-bloomz-lincoln")
    assert school.returncode == 0, school.stderr[-3000:]
