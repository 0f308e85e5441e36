"""BATCH messages (singer-sdk's batch extension) written as a tap in batch mode leaves them."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from roster_streams import contract
from tests.support.district import pull_frame

Records = dict[str, list[dict[str, Any]]]


def _jsonl(records: list[dict[str, Any]], *, final_newline: bool = True) -> bytes:
    text = "\n".join(json.dumps(record) for record in records)
    return (text + "\n" if final_newline and records else text).encode()


def batch_lines(
    records: Records, files: Path, *, version: int | None = 1, activate: bool = True, pull: str = "finished"
) -> str:
    """The pull's started record; SCHEMA, then each stream's records in two BATCH messages (a gzip file,
    then a plain file without its last newline), ACTIVATE_VERSION when ``activate``; STATE; the pull's
    finished record unless ``pull`` is "started" (cut short)."""
    files.mkdir(parents=True, exist_ok=True)
    head, tail = pull_frame(records, activate=activate, pull=pull)
    messages: list[dict[str, Any]] = [*head]
    for stream, rows in records.items():
        messages.append(
            {
                "type": "SCHEMA",
                "stream": stream,
                "schema": contract.load_schema(stream),
                "key_properties": contract.key_properties(stream),
            }
        )
        half = len(rows) // 2
        zipped, plain = files / f"{stream}-1.jsonl.gz", files / f"{stream}-2.jsonl"
        zipped.write_bytes(gzip.compress(_jsonl(rows[:half])))
        plain.write_bytes(_jsonl(rows[half:], final_newline=False))
        for path, compression in ((zipped, "gzip"), (plain, "none")):
            batch = {
                "type": "BATCH",
                "stream": stream,
                "encoding": {"format": "jsonl", "compression": compression},
                "manifest": [path.as_uri()],
            }
            messages.append(batch | ({"version": version} if version is not None else {}))
        if activate:
            messages.append({"type": "ACTIVATE_VERSION", "stream": stream, "version": version})
    messages.append({"type": "STATE", "value": {"bookmarks": {"run": "1"}}})
    messages += tail
    return "".join(json.dumps(message) + "\n" for message in messages)


def batch_root(tmp_path: Path) -> dict[str, Any]:
    """target-bloomz's batch folder (the taps' batch_config.storage.root): it reads BATCH files only there."""
    return {"batch_config": {"storage": {"root": (tmp_path / "batches").as_uri()}}}
