"""A generated district (roster-sandbox generate): merged employee roles, the staff side of the admin rule."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import Sandbox, run_sandbox

ROSTER_SANDBOX = str(Path(sys.executable).parent / "roster-sandbox")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "district"
    subprocess.run([ROSTER_SANDBOX, "generate", "tiny", "--seed", "1", "--out", str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def tiny_sandbox(tiny_dir: Path) -> Iterator[Sandbox]:
    with run_sandbox(tiny_dir) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def users(tiny_dir: Path) -> list[dict[str, Any]]:
    return [item["data"] for item in json.loads((tiny_dir / "users.json").read_text())["data"]]


def _config(sandbox: Sandbox, **extra: Any) -> dict[str, Any]:
    return {"district_token": sandbox.token, "api_url": sandbox.clever_api_url} | extra


def test_a_teacher_who_is_also_staff_is_one_record_with_both_roles(
    tiny_sandbox: Sandbox, users: list[dict[str, Any]], tap_run: Callable[..., Any], tmp_path: Path
) -> None:
    employees = [u for u in users if {"teacher", "staff", "district_admin"} & set(u["roles"])]
    both = next(u for u in users if {"teacher", "staff"} <= set(u["roles"]))
    run = tap_run(tmp_path, _config(tiny_sandbox))
    assert run.returncode == 0, run.stderr[-3000:]
    staff = run.records("staff")
    assert sorted(r["id"] for r in staff) == sorted(u["id"] for u in employees)
    merged = next(r for r in staff if r["id"] == both["id"])
    assert merged["roles"] == ["teacher", "staff"]
    assert merged["title"] == both["roles"]["teacher"]["title"]
    assert merged["extra"]["roles"]["staff"]["title"] == both["roles"]["staff"]["title"]


def test_staff_of_every_selected_school_may_import(
    tiny_sandbox: Sandbox, users: list[dict[str, Any]], tap_run: Callable[..., Any], tmp_path: Path
) -> None:
    principal = next(u for u in users if set(u["roles"]) == {"staff"})
    school = principal["roles"]["staff"]["schools"][0]
    run = tap_run(tmp_path, _config(tiny_sandbox, schools=[school], admin_email=principal["email"]))
    assert run.returncode == 0, run.stderr[-3000:]
    assert {r["school_id"] for r in run.records("sections")} == {school}


def test_staff_of_only_some_selected_schools_is_refused(
    tiny_sandbox: Sandbox, users: list[dict[str, Any]], tap_run: Callable[..., Any], tmp_path: Path
) -> None:
    principal = next(u for u in users if set(u["roles"]) == {"staff"})
    run = tap_run(tmp_path, _config(tiny_sandbox, admin_email=principal["email"]))  # every school
    assert run.returncode == 1
    assert "is staff of only some of the selected schools" in run.stderr
    assert "School level import is allowed only for users with admin roles" in run.stderr
