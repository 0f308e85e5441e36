"""A generated district (roster-sandbox generate): merged employee roles, the staff side of the admin rule."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import Sandbox

from tests.support.clever_tap import sandbox_config


@pytest.fixture(scope="module")
def users(tiny_district: Path) -> list[dict[str, Any]]:
    return [item["data"] for item in json.loads((tiny_district / "users.json").read_text())["data"]]


def test_a_teacher_who_is_also_staff_is_one_record_with_both_roles(
    tiny_sandbox: Sandbox, users: list[dict[str, Any]], tap_run: Callable[..., Any], tmp_path: Path
) -> None:
    employees = [u for u in users if {"teacher", "staff", "district_admin"} & set(u["roles"])]
    both = next(u for u in users if {"teacher", "staff"} <= set(u["roles"]))
    run = tap_run(tmp_path, sandbox_config(tiny_sandbox))
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
    run = tap_run(tmp_path, sandbox_config(tiny_sandbox, schools=[school], admin_email=principal["email"]))
    assert run.returncode == 0, run.stderr[-3000:]
    assert {r["school_id"] for r in run.records("sections")} == {school}


def test_staff_of_only_some_selected_schools_is_refused(
    tiny_sandbox: Sandbox, users: list[dict[str, Any]], tap_run: Callable[..., Any], tmp_path: Path
) -> None:
    principal = next(u for u in users if set(u["roles"]) == {"staff"})
    run = tap_run(tmp_path, sandbox_config(tiny_sandbox, admin_email=principal["email"]))  # every school
    assert run.returncode == 1
    assert "is staff of only some of the selected schools" in run.stderr
    assert "School level import is allowed only for users with admin roles" in run.stderr
