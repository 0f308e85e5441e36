"""The Bulk Import Status e-mail after every run, and delivery by SMTP after the commit, crash or not."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
from roster_sandbox.testing import free_port
from target_bloomz import store
from target_bloomz.outbox import status_emails

from tests.support.district import TARGET, district, query, run_target, singer_lines
from tests.support.smtp import Mailbox, SmtpServer, body

CLI = str(Path(sys.executable).with_name("bloomz-sync"))
NOTIFY_STAFF = {"notify_to": ["School Support Staff"]}  # Ann has an e-mail and the default staff role


def smtp(server: SmtpServer) -> dict[str, object]:
    return {"smtp_host": "127.0.0.1", "smtp_port": server.port}


def test_invitation_and_status_email_over_smtp(
    target_config: Callable[..., dict], smtp_server: SmtpServer, mailbox: Mailbox, tmp_path: Path
) -> None:
    config = target_config(invite_teachers=True, **NOTIFY_STAFF, **smtp(smtp_server))
    result = run_target(config, singer_lines(district()), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Outbox: 2 sent, 0 failed, 0 left pending" in result.stderr
    ann = mailbox.to("ann.smith@example.org")
    subjects = sorted(str(m["Subject"]) for m in ann)
    # 3 warnings: the class name taken, and the two contacts (Family, Emergency) the contact filter leaves
    # out, named once per type since issue 18 (nobody vanishes)
    assert subjects == [
        "Bulk Import Status: Lincoln Elementary (Clever): Completed, 3 warnings",
        "Your school invited you to Lincoln Elementary on Bloomz",
    ]
    status = next(m for m in ann if "Bulk Import Status" in str(m["Subject"]))
    text = body(status, "plain")
    assert "Classes                    1" in text  # Homeroom - Smith; the second one is left out
    assert 'WARNING sections sec2: section not imported: class name "Homeroom - Smith" is taken' in text
    assert "Send invitations to Teachers: On" in text
    assert "Invitations queued: 1 by e-mail." in text
    html = body(status, "html")
    assert "<table" in html
    assert "Homeroom - Smith" in html
    # Jefferson's staff (Bob, Cy) have no e-mail: no status e-mail there, and no invitation.
    assert [rcpt for rcpt, _ in mailbox.messages] == [["ann.smith@example.org"]] * 2


def test_held_runs_are_reported_too_dry_runs_send_nothing(
    target_config: Callable[..., dict], database: Path, tmp_path: Path
) -> None:
    records = district()
    assert run_target(target_config(**NOTIFY_STAFF), singer_lines(records), tmp_path).returncode == 0
    dry = run_target(target_config(dry_run=True, **NOTIFY_STAFF), singer_lines(records), tmp_path)
    assert dry.returncode == 0, dry.stderr
    # Full Data with every enrollment of Lincoln gone: over the 10% removal limit, so the run is held.
    records["enrollments"] = [e for e in records["enrollments"] if e["section_id"] == "sec3"]
    held = run_target(target_config(full_data=True, **NOTIFY_STAFF), singer_lines(records), tmp_path)
    assert held.returncode == 3, held.stderr  # held: exit status 3
    subjects = dict(
        query(
            database,
            "SELECT r.status, o.subject FROM outbox o JOIN runs r ON r.id = o.run_id "
            "WHERE o.kind = 'import_status' AND o.recipient = 'ann.smith@example.org'",
        )
    )
    assert "dry_run" not in subjects  # a dry run writes nothing but its run and plan
    assert subjects["held"].startswith("Bulk Import Status: Lincoln Elementary (Clever): Held for approval")
    body = query(
        database,
        "SELECT o.body_text FROM outbox o JOIN runs r ON r.id = o.run_id WHERE r.status = 'held' "
        "AND o.kind = 'import_status'",
    )[0][0]
    reason = query(database, "SELECT status_reason FROM runs WHERE status = 'held'")[0][0]
    assert reason in " ".join(body.split())
    assert query(database, "SELECT count(*) FROM outbox WHERE status <> 'sent'") == [(0,)]

    # A person approves the held run: its "Completed" e-mail follows the "Held" one.
    approved = subprocess.run(
        [CLI, "--database", str(database), "approve", "3"], capture_output=True, text=True, check=False
    )
    assert approved.returncode == 0, approved.stderr
    assert query(
        database,
        "SELECT subject FROM outbox WHERE run_id = 3 AND recipient = 'ann.smith@example.org' ORDER BY id",
    ) == [
        ("Bulk Import Status: Lincoln Elementary (Clever): Held for approval, 3 warnings",),
        ("Bulk Import Status: Lincoln Elementary (Clever): Completed, 3 warnings",),
    ]


def test_failed_run_status_names_the_error(
    target_config: Callable[..., dict], database: Path, tmp_path: Path
):
    assert run_target(target_config(**NOTIFY_STAFF), singer_lines(district()), tmp_path).returncode == 0
    with store.connect(database) as con:
        con.execute(
            "INSERT INTO runs (id, source, scope, options, status, error, started_at, finished_at) "
            "SELECT 2, source, scope, options, 'failed', 'nothing was applied: IOException: disk full', "
            "now(), now() FROM runs WHERE id = 1"
        )
        assert status_emails.queue_status_emails(con, 2) == 1
        assert status_emails.queue_status_emails(con, 2) == 0  # once per run and admin
        row = con.execute(
            "SELECT subject, body_text FROM outbox WHERE run_id = 2 AND kind = 'import_status'"
        ).fetchone()
    assert row is not None, "no status e-mail was queued for the failed run"
    subject, text = row
    assert subject == "Bulk Import Status: Lincoln Elementary (Clever): Failed, 1 error"
    assert "run 2: nothing was applied: IOException: disk full" in text


def test_smtp_down_leaves_messages_for_the_next_run(
    target_config: Callable[..., dict],
    smtp_server: SmtpServer,
    mailbox: Mailbox,
    database: Path,
    tmp_path: Path,
) -> None:
    down = target_config(invite_teachers=True, smtp_host="127.0.0.1", smtp_port=free_port(), **NOTIFY_STAFF)
    first = run_target(down, singer_lines(district()), tmp_path)
    assert first.returncode == 0, first.stderr  # the import itself succeeded
    assert "e-mail delivery stopped, 2 left pending for the next delivery" in first.stderr
    assert query(database, "SELECT status FROM runs") == [("applied",)]
    assert query(database, "SELECT count(*) FROM outbox WHERE status = 'pending'") == [(2,)]

    # The relay is back: `bloomz-sync deliver` sends what waited, with target-bloomz's settings from the
    # environment as Meltano sets them.
    env = {
        **os.environ,
        "TARGET_BLOOMZ_SMTP_HOST": "127.0.0.1",
        "TARGET_BLOOMZ_SMTP_PORT": str(smtp_server.port),
    }
    delivered = subprocess.run(
        [CLI, "--database", str(database), "deliver"], env=env, capture_output=True, text=True, check=False
    )
    assert delivered.returncode == 0, delivered.stderr
    assert "Outbox: 2 sent, 0 failed, 0 left pending" in delivered.stdout
    assert len(mailbox.to("ann.smith@example.org")) == 2

    up = target_config(invite_teachers=True, **NOTIFY_STAFF, **smtp(smtp_server))
    second = run_target(up, singer_lines(district()), tmp_path)
    assert second.returncode == 0, second.stderr
    ann = sorted(str(m["Subject"]).split(":")[0] for m in mailbox.to("ann.smith@example.org"))
    # run 1's invitation and status e-mail, run 2's status e-mail: the invitation only once
    assert ann == [
        "Bulk Import Status",
        "Bulk Import Status",
        "Your school invited you to Lincoln Elementary on Bloomz",
    ]


def test_killed_during_delivery_delivers_once_later(
    target_config: Callable[..., dict],
    smtp_server: SmtpServer,
    mailbox: Mailbox,
    database: Path,
    tmp_path: Path,
) -> None:
    config = target_config(invite_teachers=True, **NOTIFY_STAFF, **smtp(smtp_server))
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    mailbox.stall = True
    process = subprocess.Popen(
        [TARGET, "--config", str(config_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdin is not None
    process.stdin.write(singer_lines(district()))
    process.stdin.close()
    assert mailbox.stalled.wait(60), "the target never reached delivery"
    process.send_signal(signal.SIGKILL)  # the run has committed; its messages are in the outbox
    process.wait(30)
    mailbox.stall = False
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("SELECT status FROM runs").fetchall() == [("applied",)]
        assert con.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone() == (2,)
    again = run_target(config, singer_lines(district()), tmp_path)
    assert again.returncode == 0, again.stderr
    invitations = [m for m in mailbox.to("ann.smith@example.org") if "invited you" in str(m["Subject"])]
    assert len(invitations) == 1
    assert query(database, "SELECT count(*) FROM outbox WHERE status <> 'sent'") == [(0,)]


def test_bad_contact_details_are_warnings_on_the_person_by_id(
    target_config: Callable[..., dict], smtp_server: SmtpServer, mailbox: Mailbox, tmp_path: Path
) -> None:
    records = district()
    records["staff"][1]["email"] = "bob.jones@@example"  # Bob, Jefferson's teacher
    records["staff"][1]["phone"] = "555-01"
    records["staff"][2]["email"] = "cy.boss@example.org"  # Cy reads both schools' status e-mails
    config = target_config(**NOTIFY_STAFF, **smtp(smtp_server))
    result = run_target(config, singer_lines(records), tmp_path)
    assert result.returncode == 0, result.stderr
    cy = sorted(mailbox.to("cy.boss@example.org"), key=lambda m: str(m["Subject"]))
    assert [str(m["Subject"]).split(" (")[0] for m in cy] == [
        "Bulk Import Status: Jefferson Middle",
        "Bulk Import Status: Lincoln Elementary",
    ]
    status = cy[0]
    text = body(status, "plain")
    assert "WARNING staff tea2: e-mail address is not valid" in text
    assert "WARNING staff tea2: phone number is not valid" in text
    assert "bob.jones" not in text
    assert "555-01" not in text
    assert "bob.jones" not in result.stderr
