"""Property: whatever point a pull is cut at, and whichever rows cannot be read, the store is exactly as
before (or, with apply_incomplete_pulls, lost nobody), and a rerun of the complete pull converges.

A seeded loop over a fixed number of examples (bounded CI time). The night's pulls are the real taps'
output, recorded once: tap-clever full in RECORD and in BATCH mode, tap-clever's events night, and
tap-oneroster on the night's CSV bundle; a cut tap writes exactly a prefix of its output, so each example
feeds target-bloomz a random prefix (cut at a random byte) or a bundle with random malformed rows. The
target runs in process; the store is compared through ``bloomz-sync export``.
"""

from __future__ import annotations

import csv
import io
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from roster_sandbox.testing import Sandbox
from target_bloomz.target import TargetBloomz

from tests.support.district import query
from tests.support.nightly import advance, run_tap, tap_clever
from tests.support.pipes import exported, sandbox_cli

SEED = 2020
EXAMPLES = 10  # cut pulls of tap-clever, spread over its three outputs
CSV_EXAMPLES = 3  # bundles with malformed rows (each one runs tap-oneroster)


def run_target(config: dict[str, Any], data: bytes) -> int:
    """target-bloomz in process on ``data``; its exit code."""
    try:
        TargetBloomz(config=config).listen(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    except SystemExit as outcome:  # a run that did not apply a complete pull (docs/resync.md, "Exit status")
        return int(outcome.code or 0)
    return 0


def _nothing() -> None:
    return None


@dataclass
class Pull:
    """One night's complete tap output, what it does to the first night's store, and how to feed it again."""

    data: bytes
    config: dict[str, Any]  # the target's settings, without database
    before: Path  # the store before the night
    after: dict[str, Any]  # the export after the complete night
    reset: Callable[[], None] = _nothing  # put BATCH files back (the target deletes what it read)
    bundle: Path | None = None  # the night's CSV bundle, for tap-oneroster's pull

    def finished_at(self) -> int:
        """The offset where the pull's finished record ends: any cut before it leaves the pull unfinished."""
        return self.data.index(b"\n", self.data.rindex(b'"event":"finished"'))


def _apply(data: bytes, config: dict[str, Any], before: Path | None, folder: Path) -> Path:
    """A store (a copy of ``before``, or a new one) after target-bloomz applied ``data``."""
    folder.mkdir(parents=True)
    database = folder / "bloomz.duckdb"
    if before is not None:
        shutil.copy(before, database)
    assert run_target({**config, "database": str(database)}, data) == 0
    return database


def _snapshot(database: Path) -> dict[str, set[tuple]]:
    """What a removal would take away: memberships, active classes, people (the store's own ids)."""
    return {
        "community_members": set(query(database, "SELECT community_id, person_id FROM community_members")),
        "class_members": set(query(database, "SELECT class_id, person_id FROM class_members")),
        "active_classes": set(query(database, "SELECT id FROM classes WHERE status = 'active'")),
        "people": set(query(database, "SELECT id FROM people")),
    }


@pytest.fixture(scope="module")
def night(
    sandbox: Sandbox,
    district_dir: Path,
    first_import: tuple[Path, dict[str, Any]],
    open_mapping: Path,
    open_oneroster_mapping: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Pull]:
    """The first night's stores (Clever, and a OneRoster CSV bundle), then the next night's pulls."""
    folder = tmp_path_factory.mktemp("night")
    outbox = str(folder / "outbox")
    clever = {"mapping": str(open_mapping), "full_data": True, "outbox_dir": outbox}
    oneroster = {"mapping": str(open_oneroster_mapping), "full_data": True, "outbox_dir": outbox}
    first_store, state = first_import
    csv_store = _apply(
        _csv_pull(_bundle(district_dir, folder / "bundle-0"), folder / "csv-0"),
        oneroster,
        None,
        folder / "csv-store",
    )

    advance(district_dir, 1, change=10)
    batches = folder / "batches"
    full = tap_clever(sandbox, folder / "full", incremental=False, state=None).read_bytes()
    events = tap_clever(sandbox, folder / "events", incremental=True, state=state).read_bytes()
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "none"},
        "storage": {"root": batches.as_uri()},
    }
    tap_config = {
        "api_url": sandbox.clever_api_url,
        "district_token": sandbox.token,
        "batch_config": batch_config,
    }
    (folder / "batch").mkdir()
    batch = run_tap("tap-clever", tap_config, folder / "batch", None).read_bytes()
    pristine = shutil.copytree(batches, folder / "batches-pristine")

    def reset_batches() -> None:
        shutil.rmtree(batches, ignore_errors=True)
        shutil.copytree(pristine, batches)

    bundle = _bundle(district_dir, folder / "bundle-1")
    pulls = {
        "records": Pull(full, clever, first_store, {}),
        "events": Pull(events, clever, first_store, {}),
        "batch": Pull(batch, {**clever, "batch_config": batch_config}, first_store, {}, reset_batches),
        "csv": Pull(_csv_pull(bundle, folder / "csv-1"), oneroster, csv_store, {}, bundle=bundle),
    }
    for name, pull in pulls.items():
        pull.reset()
        pull.after = exported(_apply(pull.data, pull.config, pull.before, folder / f"after-{name}"))
    return pulls


def _bundle(district: Path, folder: Path) -> Path:
    sandbox_cli("export-csv", str(district), "--version", "1.1", "--out", str(folder))
    return folder


def _csv_pull(bundle: Path, folder: Path) -> bytes:
    """tap-oneroster's output on a bundle (it finishes, listing the rows it could not read)."""
    folder.mkdir(parents=True, exist_ok=True)
    return run_tap("tap-oneroster", {"csv_path": str(bundle)}, folder, None).read_bytes()


def _malformed(bundle: Path, folder: Path, rng: random.Random) -> tuple[Path, list[str]]:
    """A copy of the bundle with 1 to 3 users.csv rows broken (an unclosed quote, or a missing field); the
    sourcedIds of the broken rows."""
    copy = Path(shutil.copytree(bundle, folder))
    lines = (copy / "users.csv").read_text().splitlines(keepends=True)
    broken = []
    for number in sorted(rng.sample(range(1, len(lines)), rng.randint(1, 3)), reverse=True):
        cells = next(csv.reader([lines[number]]))
        broken.append(cells[0])
        if rng.random() < 0.5:
            lines[number] = lines[number].replace(f",{cells[8]},", f',"{cells[8]},', 1)  # never closes
        else:
            lines[number] = lines[number].rstrip("\r\n").rsplit(",", 1)[0] + "\r\n"  # one field short
    (copy / "users.csv").write_text("".join(lines))
    return copy, broken


def test_a_cut_or_unreadable_pull_leaves_the_store_before_or_loses_nobody_and_a_rerun_converges(
    night: dict[str, Pull], tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    plans: list[tuple[str, dict[str, Any]]] = []
    for _ in range(EXAMPLES):
        kind = rng.choice(["records", "events", "batch"])
        plans.append(
            (kind, {"cut": rng.randint(1, night[kind].finished_at() - 1), "allow": rng.random() < 0.4})
        )
    plans += [("csv", {"cut": None, "allow": number % 2 == 1}) for number in range(CSV_EXAMPLES)]

    for number, (kind, plan) in enumerate(plans):
        pull = night[kind]
        example = f"example {number}: {kind} {plan} (seed {SEED})"
        folder = tmp_path / f"example-{number}"
        folder.mkdir()
        database = Path(shutil.copy(pull.before, folder / "bloomz.duckdb"))
        config = {**pull.config, "database": str(database), "apply_incomplete_pulls": plan["allow"]}
        before, kept = exported(database), _snapshot(database)
        broken: list[str] = []
        if pull.bundle is not None:
            bundle, broken = _malformed(pull.bundle, folder / "bundle", rng)
            data = _csv_pull(bundle, folder / "tap")
        else:
            data = pull.data[: plan["cut"]]
        pull.reset()

        code = run_target(config, data)

        if not plan["allow"]:
            assert code in ((1,) if broken else (0, 1)), example  # 0: cut inside the first line: no pull
            assert exported(database) == before, f"{example}: the store is exactly as before"
        else:
            assert code in ((4,) if broken else (0, 4)), example
            after = _snapshot(database)
            for what, rows in kept.items():
                assert rows <= after[what], f"{example}: {what} lost {sorted(rows - after[what])[:5]}"
            if code == 4:
                assert query(database, "SELECT status, pull_complete FROM runs ORDER BY id DESC LIMIT 1") == [
                    ("applied", False)
                ], example
        for source_id in broken:  # the person on a broken row keeps every place they had
            had = set(query(pull.before, _MEMBERSHIPS, [source_id, source_id]))
            assert had <= set(query(database, _MEMBERSHIPS, [source_id, source_id])), example

        pull.reset()
        assert run_target(config, pull.data) == 0, example
        if not plan["allow"]:
            assert exported(database) == pull.after, f"{example}: the complete pull converges"
            continue
        # After an applied incomplete pull, history may keep what a fresh night would not: a class that took
        # a name freed that night a run early (first-wins is judged against the names before a run). The
        # people converge exactly.
        assert exported(database)["people"] == pull.after["people"], f"{example}: the people converge"


_MEMBERSHIPS = """
SELECT 'community', m.community_id FROM community_members m JOIN person_sources s ON s.person_id = m.person_id
WHERE s.source_id = ?
UNION ALL
SELECT 'class', m.class_id FROM class_members m JOIN person_sources s ON s.person_id = m.person_id
WHERE s.source_id = ?
ORDER BY ALL
"""
