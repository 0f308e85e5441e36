"""What tap-oneroster logs: ids and counts, never a secret or a person's name, e-mail or phone."""

from __future__ import annotations

from pathlib import Path

from roster_sandbox.testing import Sandbox

from tests.support.oneroster_tap import TapRun, run_tap, sandbox_config


def personal_data(run: TapRun) -> set[str]:
    """Every name, e-mail and phone number of the people the run emitted."""
    values: set[str] = set()
    for stream in ("students", "staff", "contacts"):
        for person in run.records[stream]:
            values.add(f"{person.get('first_name')} {person.get('last_name')}")
            values.update(person[f] for f in ("email", "phone", "last_name") if person.get(f))
    # short family names ("Li") also occur inside ordinary words of the log; the full names cover them
    return {v for v in values if len(v) >= 5}


def test_logs_carry_ids_but_no_personal_data_or_secret(
    demo_sandbox: Sandbox, full_run_11: TapRun, tmp_path: Path
) -> None:
    oauth1 = run_tap(tmp_path, sandbox_config(demo_sandbox, "1.2", auth="oauth1", incremental=True))
    assert oauth1.returncode == 0, oauth1.stderr[-3000:]
    people = personal_data(full_run_11)
    assert len(people) > 2000  # the demo district's students, staff and contacts

    for run in (full_run_11, oauth1):
        leaked = sorted(value for value in people if value in run.stderr)
        assert not leaked, leaked[:5]
        assert demo_sandbox.client_secret not in run.stderr
        assert "Bearer " not in run.stderr
        assert "oauth_signature=" not in run.stderr
