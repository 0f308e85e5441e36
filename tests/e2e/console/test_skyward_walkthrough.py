"""The seeds' Skyward walk-through in a real browser: Client ID, Secret Key, Server URL and Authentication
URL of the sandbox's OneRoster API, the schools those credentials see, one picked, its options chosen from
the values the server holds, previewed, imported, its status, a night held by a safety limit approved,
and its nightly schedule turned on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from roster_sandbox.testing import Sandbox

from tests.support.console import (
    RunningConsole,
    clear_meltano_state,
    held_state,
    meltano_state,
    needs_chromium,
    new_page,
    press_and_watch,
    shot,
    shown_count,
    sign_in,
    wait_for_counts,
)
from tests.support.district import query

pytestmark = [needs_chromium, pytest.mark.e2e]
SCHOOL_3 = "5a25ff950a5f621109000006"


def test_link_skyward_pick_and_import(
    console_server: RunningConsole, demo_sandbox: Sandbox, browser, tmp_path: Path
) -> None:
    page = new_page(browser)
    sign_in(page, console_server.url)
    page.goto(console_server.url + "/link/skyward")
    page.fill("#name", "Oak Valley")
    page.fill("#client_id", demo_sandbox.client_id)
    page.fill("#client_secret", demo_sandbox.client_secret)
    page.fill("#base_url", demo_sandbox.oneroster_base_url("1.1"))
    page.fill("#token_url", demo_sandbox.oneroster_token_url)
    page.click("button:text('Save')")
    page.wait_for_selector("text=Saved and connected.")
    wait_for_counts(page)
    shot(page, tmp_path, "skyward-1-district")
    assert page.locator("tr", has_text=SCHOOL_3).count() == 1
    assert demo_sandbox.client_secret not in page.content()
    page.check("input[aria-label='School 3']")
    page.click("text=Link the selected schools")
    page.wait_for_selector("text=Linked 1 school")
    include = yaml.safe_load((console_server.root / "districts/oak-valley/meltano.yml").read_text())
    extractors = {p["name"]: p for p in include["plugins"]["extractors"]}
    assert extractors["tap-skyward-oak-valley"]["inherit_from"] == "tap-skyward"
    assert extractors["tap-skyward-oak-valley-school-3"]["config"] == {"schools": [SCHOOL_3]}

    # Options from what the OneRoster server holds: the Student ID field with its samples, the contacts'
    # relationship (OneRoster has no contact type) with the values found, as Skyward's mapping preselects.
    ids = page.inner_text("#options table")
    assert "0 of 268" in ids, ids
    guardians = page.locator("input[name=include_relationship][value=guardian]")
    assert guardians.is_checked(), "the OneRoster mapping imports parents and guardians"
    assert page.locator("input[name=contact_field][value=relationship]").is_checked()
    page.check("#id-student_number")
    page.click("#options button[value=save]")
    page.wait_for_selector("text=Options saved")
    mapping = yaml.safe_load((console_server.root / "districts/oak-valley/mapping.yml").read_text())
    assert mapping["students"]["id_field"] == "student_number"
    assert mapping["contacts"]["field"] == "relationship"
    assert sorted(mapping["contacts"]["include"]) == ["guardian", "parent"]

    # Preview, then Import Now.
    outcome = press_and_watch(page, "preview", tmp_path)
    assert outcome == "Dry run: nothing was changed", page.inner_text("#last-task")
    assert query(console_server.database, "SELECT count(*) FROM people") == [(0,)]
    outcome = press_and_watch(page, "import", tmp_path)
    assert outcome == "Completed", page.inner_text("#last-task")
    page.click("text=Last Import Status: run")
    assert page.inner_text("#run-status") == "Completed"
    shot(page, tmp_path, "skyward-2-status")
    key = f"oneroster:{SCHOOL_3}"
    stored = dict(
        query(
            console_server.database,
            "SELECT p.kind, count(*) FROM community_members m JOIN communities c ON c.id = m.community_id "
            "JOIN people p ON p.id = m.person_id WHERE c.key = ? GROUP BY ALL",
            [key],
        )
    )
    for what, kind in (("students", "student"), ("parents", "parent"), ("staff", "staff")):
        shown = shown_count(page, what, "added")
        assert shown == stored[kind], what
    assert stored["student"] == 268, "School 3's students, as the district page counted them"
    classes = shown_count(page, "classes", "added")
    assert query(
        console_server.database, "SELECT DISTINCT student_id_field FROM people WHERE kind = 'student'"
    ) == [("student_number",)]

    # A night held by a safety limit: with a subject's sections left out, Import Now with Full Data and
    # Archive would archive their classes, over the OneRoster mapping's 10% limit on class removals.
    page.goto(console_server.url + "/schools/oak-valley/school-3")
    subject = page.locator("input[name=leave_out_subject][value='arts and music']")
    left_out = int(re.findall(r"\((\d+)\)", page.locator("label", has=subject).inner_text())[-1])
    subject.check()
    page.click("#options button[value=save]")
    page.wait_for_selector("text=Options saved")
    state_id = "sandbox:tap-skyward-oak-valley-school-3-to-target-bloomz-oak-valley-school-3"
    clear_meltano_state(console_server, state_id)
    outcome = press_and_watch(page, "import", tmp_path, switches=("full_data", "archive"))
    assert outcome == "Held for approval: nothing was changed", page.inner_text("#last-task")
    page.click("text=Last Import Status: run")
    held = int(page.url.rsplit("/", 1)[-1])
    assert page.inner_text("#run-status") == "Held for approval: nothing was changed"
    assert f"{left_out} classes removals of {classes}" in page.inner_text(".note"), "why it is held"
    assert shown_count(page, "classes", "archived") == left_out
    archived = (
        "SELECT count(*) FROM classes c JOIN communities k ON k.id = c.community_id "
        "WHERE k.key = ? AND c.status = 'archived'"
    )
    assert query(console_server.database, archived, [key]) == [(0,)], "held: nothing was changed"
    assert meltano_state(console_server, state_id) == {}, "a held run moves nothing"
    page.click("button:text('Approve')")
    page.wait_for_selector(f"text=Run {held} approved and applied.")
    shot(page, tmp_path, "skyward-3-approved", full_page=False)
    assert query(console_server.database, archived, [key]) == [(left_out,)]
    assert query(console_server.database, "SELECT status FROM runs WHERE id = ?", [held]) == [("applied",)]
    assert page.inner_text("#run-status") == "Completed"
    assert f"Meltano's state of {state_id} is now this run's" in page.inner_text(".flash.ok")
    assert meltano_state(console_server, state_id) == held_state(console_server.database, held)

    # Scheduled import on: the school's nightly schedule, as Meltano lists it.
    page.goto(console_server.url + "/schools/oak-valley/school-3")
    page.check("input[name=scheduled]")
    page.click("#settings button[type=submit]")
    page.wait_for_selector("text=the scheduled import is on")
    schedules = console_server.meltano("schedule", "list", "--format=json")
    assert "nightly-oak-valley-school-3" in schedules.stdout, schedules.stderr[-2000:]
