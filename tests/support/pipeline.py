"""Run the import pipeline in this process on records given as dicts: a planning rule tested in milliseconds.

``run_import`` spools the records as target-bloomz's reader does, frames them as one pull a tap finished,
and hands them to ``ImportPipeline.run``: the same steps the target runs, without a process or Singer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from target_bloomz.input.pull_input import PullInput
from target_bloomz.input.sinks import spool_file
from target_bloomz.mapping import load_mapping
from target_bloomz.pipeline.import_pipeline import ImportPipeline, Outcome, Received, RunSettings

from tests.support.district import pull_frame


def run_import(
    database: Path,
    records: dict[str, list[dict[str, Any]]],
    tmp_path: Path,
    *,
    mapping: Path | None = None,
    source: str = "clever",
    **settings: Any,
) -> Outcome:
    """Import ``records`` (a full pull, finished) into the store at ``database``; ``settings`` are
    RunSettings fields (dry_run, ...) or import options (full_data, ...)."""
    spool_dir = tmp_path / f"spool-{len(list(tmp_path.glob('spool-*')))}"
    spool_dir.mkdir()
    for stream, rows in records.items():
        spool_file(spool_dir, stream).write_text("".join(json.dumps(row) + "\n" for row in rows))
    head, tail = pull_frame(records, source=source)
    pull = PullInput(announced=True)
    for message in head:
        if message["type"] == "RECORD":
            pull.take(message["record"])
    for stream in records:
        pull.saw(stream, "RECORD")
    for message in tail:
        pull.take(message["record"])
    options = {k: settings.pop(k) for k in list(settings) if k not in RunSettings.__dataclass_fields__}
    loaded = load_mapping(mapping, source=source).with_options(**options)
    run_settings = RunSettings(database=database, feed=f"{source}:test", **settings)
    received = Received(
        spool_dir=spool_dir,
        pull=pull,
        complete_streams=frozenset(records),
        versioned_streams=frozenset(records),
    )
    return ImportPipeline(loaded, run_settings).run(received)
