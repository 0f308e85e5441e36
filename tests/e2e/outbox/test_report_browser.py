"""`bloomz-sync report RUN --html` looked at as a person would: the page rendered by headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.district import district, run_target, singer_lines

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CLI = str(Path(sys.executable).with_name("bloomz-sync"))
# Appended to a copy of the page: says whether anything sticks out sideways on a phone-sized window.
MEASURE = (
    "<script>document.body.setAttribute('data-overflow', "
    "String(document.documentElement.scrollWidth > window.innerWidth));</script>"
)


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),  # CI installs chromium (.ci/run): there it must run
    reason="chromium is not installed (Debian: apt-get install chromium)",
)
def test_report_page_reads_on_a_phone(
    target_config: Callable[..., dict], database: Path, tmp_path: Path
) -> None:
    records = district()
    records["students"].append({"id": "stu9", "school_ids": "sch1"})  # a broken record: an error to show
    assert run_target(target_config(), singer_lines(records), tmp_path).returncode == 0
    page = tmp_path / "report.html"
    written = subprocess.run(
        [CLI, "--database", str(database), "report", "1", "--school", "clever:sch1", "--html", str(page)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert written.returncode == 0, written.stderr
    measured = tmp_path / "measured.html"
    measured.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    assert CHROMIUM is not None
    shown = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=390,844",
            "--dump-dom",
            measured.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    dom = shown.stdout
    assert 'data-overflow="false"' in dom, "the page is wider than a phone"
    text = " ".join(re.sub(r"<[^>]+>", " ", dom).split())
    assert "Lincoln Elementary" in text
    assert "Completed" in text
    assert "stu9" in text
    assert "school_ids: expected array, got varchar" in text
    assert re.search(r"Students\s+2\s+0\s+0\s+0", text), text[:2000]
