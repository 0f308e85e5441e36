"""Linking a source: the connection test with the taps' own client code, and a snapshot of what it shares.

The test answers the seeds' first questions in plain words: which district and schools the credentials
see, whether the admin linking them passes Clever's admin-role rule, and that changed sharing rules take
time. The snapshot then reads the whole district through the tap (the same executable Meltano runs, with
the configuration Meltano resolves) and stages it with the engine's own staging into a DuckDB file of the
console's (owner-only): the schools' counts, what is not shared, and the values the option screens show.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from tap_clever import connection as clever_connection
from tap_clever.admin import verify_admin
from tap_clever.errors import CleverError
from tap_clever.tap import TapClever
from tap_oneroster.csv_source import BundleError
from tap_oneroster.tap import TapOneRoster

from bloomz_console import engine
from bloomz_console.project import Kind

SHARING_DELAY = (
    "Changed sharing rules can take 30 minutes to an hour to reach Bloomz: if a school, section or person is "
    "missing after you changed them, wait, then test the connection again."
)
NO_CONTACTS = (
    "Contacts are not shared: Bloomz can only roster classes and students, not parents. Share Family Codes "
    "(Manage > Students > Family codes) so parents can sign up and be linked to the right students, or ask "
    "the district to share contacts with Bloomz."
)
NO_ADMIN_EMAIL = (
    "No admin e-mail was given, so the rule that only a Clever admin (a district admin, or staff of every "
    "school linked) may import a school is not checked. Add your e-mail to have it checked."
)
# What is lost when a stream comes back empty from a source that has it.
EMPTY_STREAMS = {
    "sections": "No sections are shared: no classes can be imported.",
    "students": "No students are shared: students cannot be imported.",
    "staff": "No teachers or staff are shared: staff cannot be imported.",
    "contacts": NO_CONTACTS,
}


@dataclass
class LinkReport:
    """What testing a link found; kept beside the console's state (no secret, no personal data)."""

    checked_at: str
    district_name: str | None = None
    schools: list[dict[str, Any]] = field(default_factory=list)  # id, name, number, then counts
    problems: list[str] = field(default_factory=list)  # the link cannot work until these are fixed
    warnings: list[str] = field(default_factory=list)
    admin: str | None = None  # the admin check, passed
    snapshot: dict[str, Any] = field(default_factory=dict)  # state, records per stream, error

    @property
    def ok(self) -> bool:
        return not self.problems

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, default=str), encoding="utf-8")
        path.chmod(0o600)

    @classmethod
    def load(cls, path: Path) -> LinkReport | None:
        if not path.is_file():
            return None
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


@contextmanager
def _console_keeps_its_signals() -> Iterator[None]:
    """A Singer tap built in the console's main thread takes SIGTERM and SIGINT for itself (it exits at
    once); the console's server keeps them, to stop cleanly."""
    kept = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in kept.items():
            signal.signal(number, handler)


def test_link(kind: Kind, config: dict[str, Any]) -> LinkReport:
    """Connect with the tap's client and list the district's schools; never raises for a bad link."""
    report = LinkReport(checked_at=_now())
    config = {k: v for k, v in config.items() if k != "batch_config" and v is not None}
    try:
        with _console_keeps_its_signals():
            if kind.source == "clever":
                _test_clever(config, report)
            else:
                _test_oneroster(config, report)
    except (CleverError, FatalAPIError, RetriableAPIError, BundleError, ValueError) as err:
        report.problems.append(f"Could not connect: {err}")
    except requests.RequestException as err:
        report.problems.append(
            f"Could not reach the server ({type(err).__name__}): check the URL and that it is reachable."
        )
    report.warnings.append(SHARING_DELAY)
    return report


def _test_clever(config: dict[str, Any], report: LinkReport) -> None:
    tap = TapClever(config=config, parse_env_config=False)
    fetch = tap.clever_streams["schools"].fetch
    report.district_name = next((d.get("name") for d in fetch("districts", {})), None)
    report.schools = [
        {"id": s["id"], "name": s.get("name") or s["id"], "number": s.get("school_number")}
        for s in fetch("schools", {})
    ]
    for scope, what, loss in clever_connection.NEEDED:
        resource, params = clever_connection.PROBES[scope]
        if next(iter(fetch(resource, params | {"limit": 1})), None) is None:
            report.warnings.append(
                NO_CONTACTS
                if scope == "read:student_contacts"
                else f"{what.capitalize()} are not shared: {loss}."
            )
    email = config.get("admin_email")
    if not email:
        report.warnings.append(NO_ADMIN_EMAIL)
        return
    try:
        role = verify_admin(fetch, email, list(config.get("schools") or []))
    except CleverError as err:
        report.problems.append(str(err))
    else:
        report.admin = f"{email} is a Clever {role}: school imports are allowed."


def _test_oneroster(config: dict[str, Any], report: LinkReport) -> None:
    tap = TapOneRoster(config=config, parse_env_config=False)
    try:
        orgs = tap.collections.table("orgs")
        rows = tap.collections.con.execute(
            f'SELECT lower(trim(type)), "sourcedId", name, identifier FROM {orgs} ORDER BY _ord'
        ).fetchall()
    finally:
        tap.close()  # the run's DuckDB and its spool folder
    report.district_name = next((name for kind, _, name, _ in rows if kind == "district"), None)
    report.schools = [
        {"id": sourced_id, "name": name or sourced_id, "number": number}
        for kind, sourced_id, name, number in rows
        if kind == "school"
    ]
    if not report.schools:
        report.problems.append(
            "The credentials see no school: check that the API user may read every school."
        )


# -- the snapshot ----------------------------------------------------------------------------------------


class SourceError(RuntimeError):
    """The tap stopped; the message is its own last line."""


def read_source(kind: Kind, config: dict[str, Any], snapshot: Path) -> dict[str, int]:
    """Run the tap over the whole district and stage what it sent into ``snapshot``; records per stream.

    The tap runs as Meltano would run it but with RECORD messages (no batch_config), its configuration in
    a file only the owner can read, in a temporary folder removed at the end (with the spooled records).
    """
    config = {k: v for k, v in config.items() if k != "batch_config"}
    with tempfile.TemporaryDirectory(prefix="bloomz-console-") as folder:
        spool_dir = Path(folder)
        settings = spool_dir / "config.json"
        settings.touch(mode=0o600)
        settings.write_text(json.dumps(config), encoding="utf-8")
        errors = spool_dir / "tap.log"
        spools: dict[str, Any] = {}
        with errors.open("wb") as log:
            process = subprocess.Popen(
                [str(Path(sys.executable).with_name(kind.executable)), "--config", str(settings)],
                stdout=subprocess.PIPE,
                stderr=log,
            )
            assert process.stdout is not None
            try:
                for line in process.stdout:
                    message = json.loads(line)
                    if message.get("type") != "RECORD":
                        continue
                    stream = message["stream"]
                    if stream not in spools:
                        spools[stream] = (spool_dir / f"{stream}.ndjson").open("w", encoding="utf-8")
                    spools[stream].write(json.dumps(message["record"]) + "\n")
            finally:
                for spool in spools.values():
                    spool.close()
                process.stdout.close()
                code = process.wait()
        if code != 0:
            raise SourceError(_tap_error(errors.read_text(errors="replace")))
        snapshot.parent.mkdir(mode=0o700, exist_ok=True)
        received = engine.stage_snapshot(spool_dir, snapshot)
        snapshot.chmod(0o600)
        return received


def _tap_error(log: str) -> str:
    lines = [line for line in log.splitlines() if "stopped" in line or "failed" in line.lower()]
    return (lines or log.strip().splitlines() or ["the tap stopped with no message"])[-1][-400:]


def sharing_warnings(received: dict[str, int]) -> list[str]:
    """What the snapshot shows is not shared (a stream that came back empty)."""
    return [text for stream, text in EMPTY_STREAMS.items() if not received.get(stream)]
