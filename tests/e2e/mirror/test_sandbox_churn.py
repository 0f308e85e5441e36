"""A night of Clever contact-id churn, end to end: roster-sandbox advance, tap-clever, target-bloomz."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from roster_sandbox.testing import Sandbox, run_sandbox

from tests.support.district import query

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def nightly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Sandbox]]:
    """A tiny synthetic district served by the sandbox; the test moves it to the next night."""
    directory = tmp_path_factory.mktemp("district") / "tiny"
    subprocess.run(
        [BIN / "roster-sandbox", "generate", "tiny", "--out", directory], check=True, capture_output=True
    )
    with run_sandbox(directory) as sandbox:
        yield directory, sandbox


def sync(sandbox: Sandbox, work: Path, database: Path, mapping: Path, **options: object) -> str:
    """tap-clever | target-bloomz, as `meltano run` pipes them; returns the target's stderr."""
    work.mkdir(parents=True, exist_ok=True)
    tap_config, target_config = work / "tap.json", work / "target.json"
    tap_config.write_text(json.dumps({"district_token": sandbox.token, "api_url": sandbox.clever_api_url}))
    target_config.write_text(
        json.dumps(
            {
                "database": str(database),
                "mapping": str(mapping),
                "outbox_dir": str(work / "outbox"),
                **options,
            }
        )
    )
    tap = subprocess.Popen(
        [BIN / "tap-clever", "--config", tap_config], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    target = subprocess.run(
        [BIN / "target-bloomz", "--config", target_config],
        stdin=tap.stdout,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert tap.wait(300) == 0
    assert target.returncode == 0, target.stderr[-3000:]
    return target.stderr


def test_churned_contacts_stay_the_same_parents(nightly: tuple[Path, Sandbox], tmp_path: Path) -> None:
    directory, sandbox = nightly
    database = tmp_path / "bloomz.duckdb"
    mapping = tmp_path / "district.yml"
    mapping.write_text("extends: clever\ncontacts:\n  field: relationship\n  include: [Parent]\n")
    sync(sandbox, tmp_path / "night0", database, mapping, invite_parents=True)
    parents_before = query(database, "SELECT count(*) FROM people WHERE kind = 'parent'")[0][0]
    invited_before = query(database, "SELECT count(*) FROM outbox WHERE kind = 'invitation'")[0][0]
    assert parents_before > 0
    assert invited_before > 0

    night = subprocess.run(
        [BIN / "roster-sandbox", "advance", directory, "--change", "30", "--seed", "7"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "contact ids churned" in night.stdout + night.stderr
    sync(sandbox, tmp_path / "night1", database, mapping, invite_parents=True)

    matched = query(
        database,
        "SELECT i.record_key, s.person_id, p.created_run FROM run_issues i "
        "JOIN person_sources s ON s.source_id = i.record_key AND s.kind = 'parent' "
        "JOIN people p ON p.id = s.person_id "
        "WHERE i.run_id = 2 AND i.message LIKE 'matched to existing parent #%'",
    )
    assert matched, "the night churned contact ids but none was matched"
    for contact_id, person_id, created_run in matched:
        assert created_run == 1, f"{contact_id} became a new person"
        assert (
            query(
                database,
                "SELECT count(*) FROM person_sources WHERE person_id = ? AND kind = 'parent'",
                [person_id],
            )[0][0]
            == 2
        )  # the old contact id and the new one
    matched_people = [person_id for _, person_id, _ in matched]
    invited_first = query(
        database,
        "SELECT count(DISTINCT person_id) FROM outbox WHERE kind = 'invitation' AND run_id = 1 "
        "AND person_id IN (SELECT unnest(?::BIGINT[]))",
        [matched_people],
    )
    assert invited_first == [(len(set(matched_people)),)]  # each was invited on the first night
    # None is invited again to a school it was invited to (a school its child just joined is a new
    # invitation). An invitation's dedupe key is invitation:<community key>:<person>:<channel>.
    community = "regexp_replace({}.dedupe_key, ':[^:]+:[^:]+$', '')"
    reinvited = query(
        database,
        "SELECT count(*) FROM outbox o WHERE o.kind = 'invitation' AND o.run_id = 2 "
        "AND o.person_id IN (SELECT unnest(?::BIGINT[])) AND EXISTS (SELECT 1 FROM outbox b "
        "WHERE b.kind = 'invitation' AND b.run_id = 1 AND b.person_id = o.person_id "
        f"AND {community.format('b')} = {community.format('o')})",
        [matched_people],
    )
    assert reinvited == [(0,)]
