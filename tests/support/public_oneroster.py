"""OneRoster data other projects publish as their test data (tests/data/oneroster/), through the real
tap-oneroster into target-bloomz, and the people each bundle holds, read from the raw files."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.district import import_in_process
from tests.support.oneroster_files import serve
from tests.support.project import REPO_ROOT

DATA = REPO_ROOT / "tests" / "data" / "oneroster"
TAP = str(Path(sys.executable).parent / "tap-oneroster")
STAFF_ROLES = {"teacher", "aide", "proctor", "counselor", "administrator", "siteadministrator", "principal"}
STAFF_ROLES |= {"districtadministrator", "systemadministrator"}
# The parents and guardians nobody may lose; a relative is a contact the default mapping leaves out, named
# once with the others of its kind ("contacts.include leaves out relationship relative: N contact(s)").
CONTACT_ROLES = {"parent", "guardian"}


def run_tap(config: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "tap.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [TAP, "--config", str(path)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def import_bundle(name: str, database: Path, tmp_path: Path, mapping: str = "", **tap: Any) -> str:
    """The bundle (a fixture's name, or ``csv_path``) through the tap and the target; the tap's log."""
    done = run_tap({"csv_path": str(DATA / name), **tap}, tmp_path)
    import_messages(done.stdout, database, tmp_path, mapping)
    return done.stderr


def import_rest(name: str, database: Path, tmp_path: Path, mapping: str = "") -> str:
    done = pull_rest(name, tmp_path)
    import_messages(done.stdout, database, tmp_path, mapping)
    return done.stderr


def pull_rest(name: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    with serve(DATA / name) as url:
        return run_tap({"base_url": url, "auth": "bearer", "access_token": "fixture"}, tmp_path)


def import_messages(messages: str, database: Path, tmp_path: Path, mapping: str, **target: Any) -> None:
    """target-bloomz in this process on the tap's output, with ``mapping`` added to the OneRoster default."""
    config: dict[str, Any] = {"database": str(database), "source": "oneroster", **target}
    if mapping:
        path = tmp_path / "district.yml"
        path.write_text("extends: oneroster\n" + mapping)
        config["mapping"] = str(path)
    import_in_process(config, messages)


def csv_rows(path: Path) -> list[dict[str, str]]:
    """A CSV file's rows, keys and values stripped (none when the file is absent)."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(handle)]


def people_of_bundle(folder: Path) -> dict[str, set[str]]:
    """The active students, staff and contacts of a bundle, by its roles.csv (1.2) or users' role (1.1)."""
    roles: dict[str, set[str]] = {}
    for row in csv_rows(folder / "roles.csv"):
        if row.get("status", "").lower() not in ("tobedeleted", "inactive"):
            roles.setdefault(row["userSourcedId"], set()).add(row["role"].lower())
    users = [
        u
        for u in csv_rows(folder / "users.csv")
        if u.get("status", "").lower() not in ("tobedeleted", "inactive")
    ]
    for user in users:
        if user.get("role"):
            roles.setdefault(user["sourcedId"], set()).add(user["role"].lower())
    return _by_stream({u["sourcedId"]: roles.get(u["sourcedId"], set()) for u in users})


def _by_stream(roles: dict[str, set[str]]) -> dict[str, set[str]]:
    return {
        "students": {u for u, r in roles.items() if "student" in r},
        "staff": {
            u for u, r in roles.items() if r & STAFF_ROLES and "student" not in r
        },  # a student is a student
        "contacts": {u for u, r in roles.items() if r & CONTACT_ROLES and "student" not in r},
    }
