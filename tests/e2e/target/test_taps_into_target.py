"""The real taps piped into target-bloomz: Lincoln's sharing rules on the demo district through tap-clever,
and the demo district as a OneRoster 1.2 CSV bundle through tap-oneroster.

Expected sets and numbers come from the raw Clever dump, independently of the target's code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import Sandbox

from tests.support.district import query, run_target
from tests.support.project import REPO_ROOT

BIN = Path(sys.executable).parent
ELEMENTARY, MIDDLE = "5a25ff950a5f621109000005", "5a25ff950a5f621109000006"  # Lincoln's two schools

pytestmark = pytest.mark.e2e


def _tap(executable: str, config: dict[str, Any], tmp_path: Path) -> str:
    """The Singer messages a real tap writes for ``config``."""
    config_file = tmp_path / f"{executable}.json"
    config_file.write_text(json.dumps(config))
    done = subprocess.run(
        [BIN / executable, "--config", str(config_file)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _sections(demo_dir: Path) -> list[dict[str, Any]]:
    return [s["data"] for s in json.loads((demo_dir / "sections.json").read_text())["data"]]


def test_lincolns_sharing_rules_pick_the_sections(
    demo_sandbox: Sandbox, demo_district_dir: Path, database: Path, tmp_path: Path
) -> None:
    mapping = REPO_ROOT / "districts" / "lincoln-unified" / "mapping.yml"
    clever = {"district_token": demo_sandbox.token, "api_url": demo_sandbox.clever_api_url}
    messages = _tap("tap-clever", clever, tmp_path)

    result = run_target({"database": str(database), "mapping": str(mapping)}, messages, tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    # The mapping's rules: the elementary school brings homerooms and specialist subjects only; every
    # middle school section comes in; the third school is not linked.
    specialists = {"arts and music", "pe and health", "language"}
    expected = {}
    for s in _sections(demo_district_dir):
        subject = (s.get("subject") or "").casefold()
        if s["school"] == MIDDLE:
            expected[s["id"]] = "sections.default: include"
        elif s["school"] == ELEMENTARY:
            expected[s["id"]] = (
                "elementary homerooms"
                if subject == "homeroom/advisory"
                else "elementary specialists"
                if subject in specialists
                else "elementary subject sections"
            )
    assert set(expected.values()) == {
        "sections.default: include",
        "elementary homerooms",
        "elementary specialists",
        "elementary subject sections",
    }
    assert dict(query(database, "SELECT source_id, rule FROM plan_rows WHERE entity = 'class'")) == expected
    included = {sid for sid, rule in expected.items() if rule != "elementary subject sections"}
    # The class name template adds the teacher: every included section is a class of its school.
    assert dict(
        query(
            database,
            "SELECT cl.section_id, c.key FROM classes cl JOIN communities c ON c.id = cl.community_id",
        )
    ) == {s["id"]: f"clever:{s['school']}" for s in _sections(demo_district_dir) if s["id"] in included}
    assert query(database, "SELECT DISTINCT student_id_field FROM people WHERE kind = 'student'") == [
        ("student_number",)
    ]


def test_a_oneroster_csv_bundle_lands_through_tap_oneroster(
    demo_district_dir: Path, database: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "demo-1.2.zip"
    exported = subprocess.run(
        [
            BIN / "roster-sandbox",
            "export-csv",
            str(demo_district_dir),
            "--version",
            "1.2",
            "--out",
            str(bundle),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert exported.returncode == 0, exported.stderr
    messages = _tap("tap-oneroster", {"csv_path": str(bundle), "version": "1.2"}, tmp_path)

    result = run_target({"database": str(database), "source": "oneroster"}, messages, tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    # The demo district's schools (School 1 to 5 in the bundle's orgs), its 349 distinctly named sections
    # (29 more repeat a name in their school), and its people: the OneRoster default imports every guardian.
    assert query(
        database, "SELECT count(*), count(*) FILTER (starts_with(key, 'oneroster:')) FROM communities"
    ) == [(5, 5)]
    assert query(database, "SELECT count(*) FROM classes") == [(349,)]
    assert query(database, "SELECT count(*) FROM run_issues WHERE message LIKE '%is taken by section%'") == [
        (29,)
    ]
    assert query(database, "SELECT kind, count(*) FROM people GROUP BY ALL ORDER BY ALL") == [
        ("parent", 1002),
        ("staff", 89),
        ("student", 1004),
    ]
    assert query(database, "SELECT count(*) FROM student_contacts") == [(1004,)]
    assert query(database, "SELECT count(*) FROM run_issues WHERE severity = 'error'") == [(0,)]
    assert query(database, "SELECT DISTINCT source FROM person_sources") == [("oneroster",)]
    assert query(database, "SELECT status FROM runs") == [("applied",)]
