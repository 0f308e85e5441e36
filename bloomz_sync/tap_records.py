"""A source's records, read by running its tap: what `bloomz-sync mapping validate --tap` checks against.

The tap runs as given (``"meltano invoke tap-clever"``, or ``"tap-clever --config tap.json"``) and its
Singer messages are read from its standard output. Only the schools, sections, terms and staff are kept; the
records of BATCH messages are read from the batch folder alone (``batches.confined``), and every file a
message names is deleted once seen, as target-bloomz does.
"""

from __future__ import annotations

import gzip
import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import msgspec
from target_bloomz.mapping.check import SourceRecords

from plugin_runtime.failures import BadInput, Failure
from roster_streams import batches

READER = "bloomz-sync mapping validate"


class SourceUnreadable(Failure):
    """The tap could not be run, or failed: the source checks are skipped (the text says why)."""


def default_batch_root() -> str:
    """meltano.yml's batch folder: ``.meltano/batches`` in the Meltano project (or the working directory)."""
    project = Path(os.environ.get("MELTANO_PROJECT_ROOT") or Path.cwd())
    return (project / ".meltano" / "batches").as_uri()


def read_tap(command: str, batch_root: str) -> SourceRecords:
    """Run the tap command to its end and keep the records the mapping checks need."""
    records = SourceRecords()
    kept: dict[str, list[dict[str, Any]]] = {
        stream: getattr(records, stream) for stream in SourceRecords.STREAMS
    }
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(shlex.split(command), stdout=subprocess.PIPE, stderr=errors)
        except (OSError, ValueError) as error:
            raise SourceUnreadable(f"the tap command {command!r} cannot be run: {error}") from None
        assert process.stdout is not None
        with process:
            for line in process.stdout:
                _take(line, kept, batch_root)
        if process.returncode:
            errors.seek(0)
            last = (errors.read().decode(errors="replace").strip().splitlines() or ["no message"])[-1]
            raise SourceUnreadable(f"the tap command failed (exit {process.returncode}): {last[-300:]}")
    return records


def _take(line: bytes, kept: dict[str, list[dict[str, Any]]], batch_root: str) -> None:
    try:
        message = msgspec.json.decode(line)
    except (msgspec.DecodeError, RecursionError):
        return  # not a Singer message: target-bloomz would refuse it; here it is not a school or section
    if not isinstance(message, dict):
        return
    stream = message.get("stream")
    if message.get("type") == "RECORD" and stream in kept and isinstance(message.get("record"), dict):
        kept[stream].append(message["record"])
    elif message.get("type") == "BATCH":
        for url in message.get("manifest") or []:
            path = batches.confined(str(url), batch_root, READER)
            if stream in kept:
                kept[stream].extend(_batch_records(path))
            path.unlink()  # the tap leaves its files for a reader to delete


def _batch_records(path: Path) -> list[dict[str, Any]]:
    with batches.open_confined(path) as raw:
        data = raw.read()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    try:
        return [record for record in msgspec.json.Decoder().decode_lines(data) if isinstance(record, dict)]
    except (msgspec.DecodeError, RecursionError) as error:
        raise BadInput(f"BATCH file {path.name}: not JSON Lines ({error})") from None
