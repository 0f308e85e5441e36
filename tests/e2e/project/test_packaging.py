"""The delivery package and the templates ship in the wheel, so an installed target can send and render."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.support.project import REPO_ROOT

REPO = REPO_ROOT
TEMPLATES = REPO_ROOT / "targets" / "target_bloomz" / "report" / "templates"


def test_a_built_wheel_carries_the_outbox_package_and_every_template(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path, REPO],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("bloomz_sync-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ["__init__", "deliver", "errors", "mail", "queue", "settings", "sms"]:
        assert f"target_bloomz/outbox/{module}.py" in names
    templates = sorted(path.name for path in TEMPLATES.glob("*.j2"))
    assert len(templates) >= 8
    for name in templates:
        assert f"target_bloomz/report/templates/{name}" in names
