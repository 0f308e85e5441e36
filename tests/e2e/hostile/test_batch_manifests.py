"""Hostile BATCH messages into target-bloomz: manifests naming files outside the batch folder, files that are
not files, and files that are not JSON Lines.

target-bloomz reads (and deletes) only regular files inside its own ``batch_config.storage.root``, checked for
every file of a message before any is opened. A manifest naming another store, a device or a FIFO once hung
the target or deleted the other file: now the run stops at once naming the URL, and nothing is read or
deleted. A file in the folder that is not JSON Lines stops the run naming it; the good store stays as it was.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import runner
from tests.support.district import district, singer_lines
from tests.support.hostile import assert_clean, assert_store

BASE = singer_lines(district())
STUDENT = {"id": "stu-b", "school_ids": ["sch1"], "first_name": "Zyxwy", "email": "zyxwy@example.org"}


@dataclass(frozen=True)
class Place:
    """The case's folders: the batch root the target reads, and a victim file outside it."""

    root: Path
    victim: Path

    def url(self, path: Path | str) -> str:
        return Path(path).as_uri() if isinstance(path, Path) else path


# A case writes what it needs under ``place`` and returns the manifest of one students BATCH message.
Setup = Callable[[Place], list[str]]


@dataclass(frozen=True)
class Case:
    setup: Setup
    exit_code: int
    says: str
    encoding: dict[str, Any] | None = None
    root: str | None = "folder"  # the target's batch root: the case folder, none, or another URL


def _good_file(place: Place, name: str = "students-1.jsonl") -> Path:
    path = place.root / name
    path.write_text(json.dumps(STUDENT) + "\n")
    return path


def _outside(target: Callable[[Place], str]) -> Setup:
    return lambda place: [target(place)]


CASES: dict[str, Case] = {}
_OUTSIDE = "is outside target-bloomz's batch folder"

# -- files outside the batch folder -------------------------------------------------------------------------
for name, target in {
    "other-store": lambda p: p.victim.as_uri(),
    "dev-zero": lambda p: "file:///dev/zero",
    "dev-urandom": lambda p: "file:///dev/urandom",
    "dev-stdin": lambda p: "file:///dev/stdin",
    "etc-passwd": lambda p: "file:///etc/passwd",
    "dot-dot": lambda p: (p.root / ".." / p.victim.name).as_uri(),
    "encoded-dot-dot": lambda p: p.root.as_uri() + "/%2e%2e/" + p.victim.name,
    "plain-path": lambda p: str(p.victim),
    "relative-path": lambda p: "students-1.jsonl",
    "the-root-itself": lambda p: p.root.as_uri(),
    "http": lambda p: "http://127.0.0.1:9/students.jsonl",
    "https-other-host": lambda p: "https://elsewhere.example/students.jsonl",
    "s3": lambda p: "s3://bucket/students.jsonl",
    "file-with-host": lambda p: "file://elsewhere.example" + str(p.root / "students-1.jsonl"),
    "nul-in-path": lambda p: p.root.as_uri() + "/students\x00.jsonl",
    "empty-url": lambda p: "",
    "huge-url": lambda p: "file:///" + "a/" * 50_000,
}.items():
    CASES[f"outside-{name}"] = Case(_outside(target), 1, _OUTSIDE)


def _link_out(place: Place) -> list[str]:
    link = place.root / "students-1.jsonl"
    link.symlink_to(place.victim)
    return [link.as_uri()]


def _link_to_dev_zero(place: Place) -> list[str]:
    link = place.root / "students-1.jsonl"
    link.symlink_to("/dev/zero")
    return [link.as_uri()]


def _fifo(place: Place) -> list[str]:
    fifo = place.root / "students-1.jsonl"
    os.mkfifo(fifo)
    return [fifo.as_uri()]


def _folder(place: Place) -> list[str]:
    folder = place.root / "students-1.jsonl"
    folder.mkdir()
    return [folder.as_uri()]


def _good_then_outside(place: Place) -> list[str]:
    return [_good_file(place).as_uri(), place.victim.as_uri()]


CASES["outside-link-to-other-store"] = Case(_link_out, 1, _OUTSIDE)
CASES["outside-link-to-dev-zero"] = Case(_link_to_dev_zero, 1, _OUTSIDE)
CASES["outside-good-file-then-other-store"] = Case(_good_then_outside, 1, _OUTSIDE)
CASES["not-a-file-fifo"] = Case(_fifo, 1, "is not a regular file")
CASES["not-a-file-folder"] = Case(_folder, 1, "is not a regular file")
CASES["not-a-file-missing"] = Case(
    lambda p: [(p.root / "gone.jsonl").as_uri()], 1, "is not in target-bloomz's batch"
)

# -- the target's batch root --------------------------------------------------------------------------------
_ROOTLESS = "reads BATCH files only from a local batch folder"
CASES["root-not-set"] = Case(lambda p: [_good_file(p).as_uri()], 1, _ROOTLESS, root=None)
CASES["root-remote"] = Case(lambda p: [_good_file(p).as_uri()], 1, _ROOTLESS, root="s3://bucket/batches")
CASES["root-http"] = Case(lambda p: [_good_file(p).as_uri()], 1, _ROOTLESS, root="http://127.0.0.1:9/")

# -- files in the folder that are not JSON Lines of records -------------------------------------------------
_UNREADABLE = "the students records cannot be read"


def _file(data: bytes, name: str = "students-1.jsonl") -> Setup:
    def setup(place: Place) -> list[str]:
        path = place.root / name
        path.write_bytes(data)
        return [path.as_uri()]

    return setup


_GOOD_LINE = json.dumps(STUDENT).encode() + b"\n"
CASES["content-not-json"] = Case(_file(b"not json at all\n"), 1, _UNREADABLE)
CASES["content-cut-line"] = Case(_file(_GOOD_LINE[:20]), 1, _UNREADABLE)
CASES["content-not-utf8"] = Case(_file(_GOOD_LINE.replace(b"Zyxwy", b"Zyxw\xff")), 1, _UNREADABLE)
CASES["content-huge-line"] = Case(
    _file(b'{"id": "stu-b", "x": "' + b"a" * (40 << 20) + b'"}\n'), 1, _UNREADABLE
)
CASES["content-gzip-declared-plain"] = Case(
    _file(_GOOD_LINE), 1, "Not a gzipped file", {"compression": "gzip"}
)
CASES["content-gzip-cut"] = Case(
    _file(gzip.compress(_GOOD_LINE * 100)[:40]), 1, "students-1.jsonl", {"compression": "gzip"}
)
CASES["content-plain-declared-gzip"] = Case(_file(gzip.compress(_GOOD_LINE)), 1, _UNREADABLE)
CASES["encoding-parquet"] = Case(_file(b"PAR1"), 1, "parquet files", {"format": "parquet"})
CASES["encoding-zstd"] = Case(
    _file(_GOOD_LINE), 1, "(compression: zstd) are not supported", {"compression": "zstd"}
)
# Files the folder holds and that are fine: read, landed, deleted.
CASES["content-empty-file"] = Case(_file(b""), 0, "")
CASES["content-no-final-newline"] = Case(_file(_GOOD_LINE.rstrip()), 0, "")
CASES["content-gzip"] = Case(_file(gzip.compress(_GOOD_LINE), "s.jsonl.gz"), 0, "", {"compression": "gzip"})
CASES["content-extra-encoding-fields"] = Case(_file(_GOOD_LINE), 0, "", {"level": 9, "codec": "x"})
CASES["content-record-not-in-contract"] = Case(_file(b'{"first_name": "Zyxwy"}\n[1, 2]\n"x"\n'), 0, "")


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_hostile_batch_manifest(case: Case, store: Path, tmp_path: Path, capfd: Any) -> None:
    place = Place(tmp_path / "batches", tmp_path / "other" / "bloomz.duckdb")
    place.root.mkdir()
    place.victim.parent.mkdir()
    shutil.copyfile(store, place.victim)
    victim_before = place.victim.read_bytes()
    manifest = case.setup(place)
    encoding = {"format": "jsonl", "compression": "none"} | (case.encoding or {})
    batch = {"type": "BATCH", "stream": "students", "encoding": encoding, "manifest": manifest, "version": 1}
    messages = BASE.replace('{"type": "STATE"', json.dumps(batch) + '\n{"type": "STATE"', 1)
    root = {"folder": place.root.as_uri(), None: None}.get(case.root, case.root)
    config = {"database": str(store)} | ({"batch_config": {"storage": {"root": root}}} if root else {})
    before = runner.store_state(store)

    started = time.monotonic()
    run = runner.target(config, messages, capfd, tmp_path)

    assert time.monotonic() - started < 60, "a hostile manifest must fail fast"
    assert_clean(run, exit_code=case.exit_code, names=[case.says] if case.exit_code else [])
    assert_store(store, before, applied=case.exit_code == 0)
    assert place.victim.read_bytes() == victim_before, "a file outside the batch folder was changed"
    if case.exit_code == 0:
        assert list(place.root.iterdir()) == [], "the target deletes the batch files it read"
    elif case.setup is _good_then_outside:
        assert (place.root / "students-1.jsonl").exists(), "no file is read or deleted before all are checked"


def test_the_cases_cover_every_kind_of_hostile_manifest() -> None:
    kinds = {name.split("-")[0] for name in CASES}
    assert kinds == {"outside", "not", "root", "content", "encoding"}
    assert len(CASES) >= 35
