"""The seeds' Skyward walk-through in a real browser: Client ID, Secret Key, Server URL and Authentication
URL of the sandbox's OneRoster API, the schools those credentials see, one picked, imported, its status."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from roster_sandbox.testing import Sandbox

from tests.console.conftest import RunningConsole, needs_chromium
from tests.console.helpers import new_page, press_and_watch, shot, sign_in, wait_for_counts
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

    text = press_and_watch(page, "#import button[value=import]", tmp_path)
    assert "finished" in text, text
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
        shown = int(page.inner_text(f"#counts tr[data-what={what}] td[data-action=added]"))
        assert shown == stored[kind], what
    assert stored["student"] == 268, "School 3's students, as the district page counted them"
