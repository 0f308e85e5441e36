"""The seeds' Clever walk-through in a real browser, end to end on the sandbox's demo district.

Link the district (District Auth Token), see the admin rule and the sharing warnings, pick a school with
its counts, choose the Student ID field and the contact types from the source's values, preview, import,
watch "Sync in progress", read Last Import Status, see a pull the source cuts short fail, approve a held
run, turn the schedule on, and find the classes under Manage and the runs under History. Every figure on
screen is checked against the store.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect
from roster_sandbox.testing import Sandbox

from tests.support.console import (
    IMPORT_TIMEOUT,
    RunningConsole,
    clear_meltano_state,
    held_state,
    meltano_state,
    needs_chromium,
    new_page,
    open_import_dialog,
    press_and_watch,
    shot,
    shown_count,
    sign_in,
    wait_for_counts,
)
from tests.support.district import query

pytestmark = [needs_chromium, pytest.mark.e2e]
SCHOOL_2 = "5a25ff950a5f621109000005"
KEY = f"clever:{SCHOOL_2}"


def test_link_pick_options_import_approve_schedule(
    console_server: RunningConsole, demo_sandbox: Sandbox, browser, tmp_path: Path
) -> None:
    page = new_page(browser)
    url, database = console_server.url, console_server.database

    page.goto(url + "/")
    assert "/login" in page.url, "every page needs a login"
    page.fill("#username", "admin")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    assert page.locator("text=Wrong user name or password").count() == 1
    sign_in(page, url)

    # Link: the seed's "District Auth Token", and the admin linking the schools.
    page.click("text=+ Link a district")
    page.click("text=Clever")
    page.fill("#name", "Maple Grove")
    page.fill("#district_token", "sandbox-district-token")
    page.fill("#admin_email", "vicky.enalen@clever.com")
    page.click("button:text('Save')")
    page.wait_for_selector("text=Saved and connected.")
    assert page.locator("text=vicky.enalen@clever.com is a Clever district admin").count() == 1
    assert page.locator("text=Changed sharing rules can take 30 minutes to an hour").count() == 1
    wait_for_counts(page)
    shot(page, tmp_path, "1-district")
    row = page.locator("tr", has_text=SCHOOL_2)
    assert [c.strip() for c in row.locator("td.num").all_inner_texts()] == ["127", "633", "41", "632"]
    assert "sandbox-district-token" not in page.content(), "a secret is never sent back to the browser"
    include = yaml.safe_load((console_server.root / "districts/maple-grove/meltano.yml").read_text())
    assert "district_token" not in str(include), "secrets go to .env, not to the district's meltano.yml"
    assert "TAP_CLEVER_MAPLE_GROVE_DISTRICT_TOKEN" in (console_server.root / ".env").read_text()

    # Pick School 2.
    page.check("input[aria-label='School 2']")
    page.click("text=Link the selected schools")
    page.wait_for_selector("text=Linked 1 school")

    # Options, with the source's values on screen.
    ids = page.inner_text("#options table")
    assert "Student Number" in ids
    assert "0 of 633" in ids
    assert page.locator("input[name=include_type][value='Parent/Guardian']").is_checked()
    assert "(350)" in page.inner_text("#options fieldset:has(input[value=type])"), "Family: 350 links"
    page.check("#id-student_number")
    page.check("input[name=include_type][value='Family']")
    # A broken template is refused, with the error next to the class name field, and nothing written.
    page.fill("#class_name", "{{ section.name ")
    page.click("#options button[value=save]")
    assert page.locator("#options .field-error", has_text="sections.class_name").count() >= 1
    assert 'section.name "' not in (console_server.root / "districts/maple-grove/mapping.yml").read_text()
    # The class-name preview flags names that collide: the first section (by id) keeps the name.
    page.fill("#class_name", "{{ section.subject }}")
    page.click("#options button[value=preview]")
    page.wait_for_selector("text=Preview only: nothing saved yet.")
    assert "8 of 127 sections become classes; 119 are left out" in page.inner_text("#options")
    taken = page.locator("#class-preview tr.collides")
    assert taken.count() == 119
    assert "Name taken by" in taken.first.inner_text()
    page.evaluate("document.getElementById('class-preview').scrollIntoView()")
    shot(page, tmp_path, "2-class-names", full_page=False)
    # The count under the section filters follows them as they change (nothing saved), and agrees with
    # what Preview then shows for the same filters.
    before = page.inner_text("#section-count")
    subject = page.locator("input[name=leave_out_subject]:not([value=''])").first
    subject.check()
    expect(page.locator("#section-count")).not_to_have_text(before)
    live = page.inner_text("#section-count")
    assert live.startswith("7 of 127 sections become classes"), live
    page.click("#options button[value=preview]")
    page.wait_for_selector("text=Preview only: nothing saved yet.")
    assert page.inner_text("#section-count") == live
    page.locator("input[name=leave_out_subject]:checked").uncheck()
    page.fill("#class_name", "{{ section.name }}")
    page.check("#id-student_number")
    page.click("#options button[value=save]")
    page.wait_for_selector("text=Options saved")
    page.evaluate("document.getElementById('options').scrollIntoView()")
    shot(page, tmp_path, "2-options", full_page=False)
    mapping = yaml.safe_load((console_server.root / "districts/maple-grove/mapping.yml").read_text())
    assert mapping["students"]["id_field"] == "student_number"
    assert mapping["contacts"]["field"] == "type"
    assert sorted(mapping["contacts"]["include"]) == ["Family", "Parent/Guardian"]
    assert mapping["communities"]["schools"] == [SCHOOL_2]

    # Preview: a dry run, then its plan; nothing is written.
    outcome = press_and_watch(page, "preview", tmp_path)
    assert outcome == "Dry run: nothing was changed", page.inner_text("#last-task")
    page.click("text=Read the preview of run")
    assert page.inner_text("#run-status") == "Dry run: nothing was changed"
    assert query(database, "SELECT count(*) FROM people") == [(0,)]

    # Import Now: "Sync in progress", then Last Import Status with the store's counts.
    page.goto(url + "/schools/maple-grove/school-2")
    open_import_dialog(page)  # the seed's dialog: Full Data, Archive, invitations with the pre-launch advice
    assert "leave the invitations off" in page.inner_text("#import-dialog")
    shot(page, tmp_path, "3-import-dialog", full_page=False)
    page.click("#import-dialog button:text('Cancel')")
    outcome = press_and_watch(page, "import", tmp_path, picture="3-sync-in-progress")
    assert outcome == "Completed", page.inner_text("#last-task")
    page.click("text=Last Import Status: run")
    assert page.inner_text("#run-status") == "Completed"
    shot(page, tmp_path, "4-last-import-status", full_page=False)
    students = query(
        database,
        "SELECT count(*) FROM community_members m JOIN communities c ON c.id = m.community_id "
        "JOIN people p ON p.id = m.person_id WHERE c.key = ? AND p.kind = 'student'",
        [KEY],
    )[0][0]
    assert shown_count(page, "students", "added") == students == 633
    classes = query(
        database,
        "SELECT count(*) FROM classes c JOIN communities k ON k.id = c.community_id WHERE k.key = ?",
        [KEY],
    )[0][0]
    assert shown_count(page, "classes", "added") == classes
    assert query(database, "SELECT DISTINCT student_id_field FROM people WHERE kind = 'student'") == [
        ("student_number",)
    ]
    parents = query(database, "SELECT count(*) FROM people WHERE kind = 'parent'")[0][0]
    assert shown_count(page, "parents", "added") == parents > 137, "Parent/Guardian and Family contacts"

    # A pull the source cuts short (Clever stops taking the token half-way): the import fails, the page
    # says why, Last Import Status says Failed, and the store is as it was.
    before = query(database, "SELECT kind, count(*) FROM people GROUP BY ALL ORDER BY 1")
    demo_sandbox.set_faults({"kind": "status", "status": 401, "path": "/v3.0/sections", "count": None})
    try:
        page.goto(url + "/schools/maple-grove/school-2")
        outcome = press_and_watch(page, "import", tmp_path)
    finally:
        demo_sandbox.clear_faults()
    assert outcome.startswith("Failed: the source stopped before the pull was complete (tap-clever"), outcome
    assert outcome.endswith("nothing was changed"), outcome
    page.click("text=Last Import Status: run")
    assert page.inner_text("#run-status") == outcome
    assert query(database, "SELECT kind, count(*) FROM people GROUP BY ALL ORDER BY 1") == before
    page.goto(url + "/schools/maple-grove/school-2")
    assert page.inner_text("#status .badge") == outcome, "the school page's Last Import Status"

    # A held run: a new class name template renames every class, over the 50% limit on updates.
    page.goto(url + "/schools/maple-grove/school-2")
    page.fill("#class_name", "{{ section.name }} - {{ school.name }}")
    page.click("#options button[value=save]")
    page.wait_for_selector("text=Options saved")
    state_id = "sandbox:tap-clever-maple-grove-school-2-to-target-bloomz-maple-grove-school-2"
    clear_meltano_state(console_server, state_id)
    open_import_dialog(page)
    page.click("#import button[value=import]")
    page.wait_for_selector("#sync >> text=Sync in progress")
    # A second import of the school while this one runs is refused.
    second = page.request.post(
        url + "/schools/maple-grove/school-2/import",
        form={"csrf": page.locator("input[name=csrf]").first.input_value(), "mode": "import"},
    )
    assert "Sync in progress: Import of school-2 is already running" in second.text()
    page.wait_for_selector("#last-task", timeout=IMPORT_TIMEOUT)
    assert page.inner_text("#task-outcome") == "Held for approval: nothing was changed"
    page.click("text=Last Import Status: run")
    assert page.inner_text("#run-status") == "Held for approval: nothing was changed"
    assert page.locator("text=over the safety limits").count() >= 1
    shot(page, tmp_path, "5-held", full_page=False)
    held = int(page.url.rsplit("/", 1)[-1])
    assert query(database, "SELECT count(*) FROM classes WHERE name LIKE '% - School 2'") == [(0,)]
    # Approve applies it and moves Meltano's state of the school's job to the held run's, as `bloomz-sync
    # approve` tells an admin to: the next night does not pull again what this run brought.
    assert meltano_state(console_server, state_id) == {}, "a held run moves nothing"
    page.click("button:text('Approve')")
    page.wait_for_selector(f"text=Run {held} approved and applied.")
    assert page.inner_text("#run-status") == "Completed"
    assert f"Meltano's state of {state_id} is now this run's" in page.inner_text(".flash.ok")
    assert meltano_state(console_server, state_id) == held_state(database, held)
    assert query(database, "SELECT count(*) FROM classes WHERE name LIKE '% - School 2'") == [(classes,)]

    # Scheduled import on: the school's nightly schedule, as Meltano lists it.
    page.goto(url + "/schools/maple-grove/school-2")
    page.check("input[name=scheduled]")
    page.click("#settings button[type=submit]")
    page.wait_for_selector("text=the scheduled import is on")
    schedules = console_server.meltano("schedule", "list", "--format=json")
    assert "nightly-maple-grove-school-2" in schedules.stdout, schedules.stderr[-2000:]

    # Manage: the classes as the store has them; a rename made here sticks (name_edited).
    page.click("text=Manage")
    expect(page.locator("#classes tr")).to_have_count(classes + 1)
    assert page.get_attribute("a:text('Clever Import')", "href") == "/schools/maple-grove/school-2#import-now"
    first = page.locator("#classes tr").nth(1)
    first.locator("summary").click()
    first.locator("input[name=name]").fill("Room 12 Hawks")
    first.locator("button:text('Rename')").click()
    page.wait_for_selector("text=the sync keeps this name")
    assert query(database, "SELECT name_edited FROM classes WHERE name = 'Room 12 Hawks'") == [(True,)]
    shot(page, tmp_path, "6-manage", full_page=False)

    # Staff: raise someone to School Admin (a sync never lowers it); then "Notify to" has someone.
    page.click("text=Staff")
    row = page.locator("#people tr").nth(1)
    row.locator("select[name=role]").select_option("School Admin")
    row.locator("button:text('Set')").click()
    page.wait_for_selector("text=the sync keeps a role set by hand")
    assert query(
        database, "SELECT count(*) FROM community_members WHERE role = 'School Admin' AND role_set_by_hand"
    ) == [(1,)]

    # Family codes: one printable letter per student without an imported contact.
    coded = query(database, "SELECT count(*) FROM people WHERE family_code IS NOT NULL")[0][0]
    letters = page.request.get(url + "/schools/maple-grove/school-2/manage/family-codes").text()
    assert coded > 0
    assert letters.count('<section class="letter">') == coded

    # Explain a person, from the run page's form.
    source_id = query(database, "SELECT source_id FROM person_sources WHERE kind = 'student' LIMIT 1")[0][0]
    page.goto(url + f"/schools/maple-grove/school-2/explain?person={source_id}")
    assert "Person #" in page.inner_text("#explanation")

    # Undo the last applied run (the approved one): its renames go back.
    page.goto(url + f"/schools/maple-grove/school-2/runs/{held}")
    page.click("button:text('Undo this import')")
    page.wait_for_selector(f"text=Run {held} undone")
    assert page.inner_text("#run-status") == "Undone"
    assert query(database, "SELECT count(*) FROM classes WHERE name LIKE '% - School 2'") == [(0,)]
    assert query(database, "SELECT count(*) FROM classes WHERE name = 'Room 12 Hawks'") == [(1,)], (
        "a class renamed by hand after the run is not the run's to take back"
    )
    page.goto(url + "/schools/maple-grove/school-2/history")
    assert page.locator("svg.chart rect").count() >= 2
    shot(page, tmp_path, "7-history")
