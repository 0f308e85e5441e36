"""What people read: the status e-mail and page, invitations, family-code letters."""

from __future__ import annotations

from datetime import datetime

import pytest
from target_bloomz.report.render import (
    RunSummary,
    render_family_code_letters,
    render_invitation,
    render_report_page,
    render_status_email,
    render_status_text,
)

SUMMARY: RunSummary = {
    "run_id": 42,
    "community": "Lincoln Elementary",
    "source": "clever",
    "status": "applied",
    "started_at": datetime(2026, 11, 23, 2, 0, 5),
    "finished_at": datetime(2026, 11, 23, 2, 3, 41),
    "options": {
        "full_data": False,
        "keep_manual_staff": True,
        "invite_parents": True,
        "invite_from": "Ms Rivera",
        "notify_to": ("School Admin", "School Office Staff"),
    },
    "counts": {
        "classes": {"added": 14, "updated": 2, "removed": 0, "archived": 3},
        "students": {"added": 311, "updated": 9, "removed": 4},
        "parents": {"added": 402},
        "staff": {"added": 23, "updated": 1},
    },
    "issues": [
        {
            "severity": "warning",
            "stream": "contacts",
            "record": "5d8e1e3a",
            "message": "phone number is not valid",
        },
        {
            "severity": "error",
            "stream": "sections",
            "record": "sec-77",
            "message": "class name <Math 3> is taken by section sec-12: only the first is imported",
        },
    ],
    "invitations": {"email": 380, "sms": 350},
}


def test_the_status_email_says_what_changed_and_what_went_wrong() -> None:
    email = render_status_email(SUMMARY)

    assert email.subject == "Bulk Import Status: Lincoln Elementary (Clever): Completed, 1 error, 1 warning"
    lines = email.text.splitlines()
    assert "Status: Completed" in lines
    assert "Run 42, started 2026-11-23 02:00 UTC, finished 2026-11-23 02:03 UTC" in lines
    assert ["Classes", "14", "2", "0", "3"] in [line.split() for line in lines]
    assert ["Students", "311", "9", "4", "0"] in [line.split() for line in lines]
    assert ["Parents", "402", "0", "0", "0"] in [line.split() for line in lines]
    assert ["Staff", "23", "1", "0", "0"] in [line.split() for line in lines]
    errors_first = [line for line in lines if line.startswith("- ERROR") or line.startswith("- WARNING")]
    assert errors_first == [
        "- ERROR sections sec-77: class name <Math 3> is taken by section sec-12: only the first is imported",
        "- WARNING contacts 5d8e1e3a: phone number is not valid",
    ]
    assert "- Do not override staff assignments: On" in lines
    assert "- Full Data: Off" in lines
    assert "- Notify to: School Admin, School Office Staff" in lines
    assert "Invitations queued: 380 by e-mail, 350 by text." in lines


def test_the_html_says_the_same_and_escapes_what_the_district_wrote() -> None:
    html = render_status_email(SUMMARY).html
    assert "class name &lt;Math 3&gt; is taken" in html
    assert "<Math 3>" not in html
    assert "Send invitations to Parents" in html
    assert "5d8e1e3a" in html
    assert "<style" not in html, "mail clients drop <style>: the e-mail carries inline styles only"
    assert 'name="viewport"' in html


def test_a_held_run_says_why_and_that_nothing_changed() -> None:
    held: RunSummary = {
        **SUMMARY,
        "status": "held",
        "issues": [],
        "held_reason": "removals of students: 31 (12.9%) over the limit of 10%",
    }
    email = render_status_email(held)
    assert email.subject == "Bulk Import Status: Lincoln Elementary (Clever): Held for approval"
    assert "This import was held: removals of students: 31 (12.9%) over the limit of 10%." in email.text
    assert "Nothing was changed in Bloomz." in email.text
    assert "over the limit of 10%" in email.html
    assert "No errors or warnings." in email.text


def test_an_incomplete_run_whose_email_reached_nobody_says_both_in_the_email_and_on_the_page() -> None:
    reason = "the pull was not complete (users.csv line 7: unclosed quote); its adds and updates were applied"
    nobody = "no School Admin of Lincoln Elementary has an e-mail address: this e-mail reached nobody"
    summary: RunSummary = {**SUMMARY, "incomplete": True, "status_reason": reason, "notices": [nobody]}

    email = render_status_email(summary)
    page = render_report_page(summary)

    assert email.subject == "Bulk Import Status: Lincoln Elementary (Clever): Incomplete, 1 error, 1 warning"
    assert f"Status: Incomplete: {reason}" in email.text.splitlines()
    assert f"Note: {nobody}" in email.text.splitlines()
    assert "Completed" not in email.text
    for html in (email.html, page):
        assert f"Incomplete: {reason}" in html
        assert nobody in html


def test_a_long_list_of_issues_is_cut_in_the_email_but_not_on_the_page() -> None:
    many: RunSummary = {
        **SUMMARY,
        "issues": [
            {
                "severity": "warning",
                "stream": "students",
                "record": f"stu-{i}",
                "message": "e-mail address is not valid",
            }
            for i in range(75)
        ],
    }
    email = render_status_email(many)
    assert "stu-49:" in email.text
    assert "stu-50:" not in email.text
    assert "... and 25 more: see the full report (bloomz-sync report 42 --html)." in email.text
    assert "stu-74" in render_report_page(many)
    assert "stu-74:" in render_status_text(many)


def test_the_report_page_is_a_whole_page() -> None:
    page = render_report_page(SUMMARY)
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Import report: Lincoln Elementary, run 42</title>" in page
    assert "Lincoln Elementary" in page


def test_a_summary_without_its_required_fields_is_refused() -> None:
    incomplete = {key: value for key, value in SUMMARY.items() if key != "community"}
    with pytest.raises(KeyError, match="community"):
        render_status_email(incomplete)  # type: ignore[arg-type]


def test_an_invitation_by_email_and_by_text() -> None:
    messages = render_invitation(
        {
            "recipient_name": "Maria",
            "role": "parent",
            "school": "Lincoln Elementary",
            "invite_from": "Ms Rivera",
            "classes": ["3A Homeroom", "Art & Design", "Music", "PE"],
            "link": "https://bloomz.net/join/abc",
            "students": ["Ana", "Ben"],
        }
    )
    assert messages.subject == "Ms Rivera invited you to Lincoln Elementary on Bloomz"
    assert messages.sms == (
        "Ms Rivera invited you to Lincoln Elementary on Bloomz:"
        " classes 3A Homeroom, Art & Design, Music +1 more. Join: https://bloomz.net/join/abc"
    )
    assert "Hi Maria," in messages.text
    assert "to stay connected with Ana and Ben's classes and teachers" in messages.text
    assert "- PE" in messages.text
    assert "<li>Art &amp; Design</li>" in messages.html
    assert 'href="https://bloomz.net/join/abc"' in messages.html


def test_a_teachers_invitation_lists_classes_without_children() -> None:
    messages = render_invitation(
        {
            "recipient_name": "Jo",
            "role": "staff",
            "school": "Lincoln Elementary",
            "invite_from": "Ms Rivera",
            "classes": ["Math 3 - Smith - 2"],
            "link": "https://bloomz.net/join/x",
        }
    )
    assert "stay connected" not in messages.text
    assert messages.sms == (
        "Ms Rivera invited you to Lincoln Elementary on Bloomz: classes Math 3 - Smith - 2. Join: https://bloomz.net/join/x"
    )


def test_family_code_letters_one_student_per_printed_page() -> None:
    page = render_family_code_letters(
        [
            {"student_name": "Ana Diaz", "code": "K7RX-M4TW-9HJP", "grade": "3"},
            {"student_name": "Ben <Ng>", "code": "FHJK-7X9W-PRTY"},
        ],
        school="Lincoln Elementary",
        signup_url="https://bloomz.net/join",
    )
    assert page.count('<section class="letter">') == 2
    assert "K7RX-M4TW-9HJP" in page
    assert "FHJK-7X9W-PRTY" in page
    assert "Dear family of <strong>Ana Diaz</strong> (grade 3)" in page
    assert "Ben &lt;Ng&gt;" in page
    assert "break-after: page" in page
    assert "https://bloomz.net/join" in page
