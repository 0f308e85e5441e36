"""dlt's DuckDB destination with `merge`, fed a recorded Singer stream on stdin (for target_compare.py).

    bench/.venv-dlt/bin/python bench/dlt_load.py --database D.duckdb --keys '{"students": ["id"]}' < FILE

This is what a data engineer would write instead of target-bloomz: every RECORD message goes to a table named
after its stream, keyed by the stream's key properties, with dlt's `merge` write disposition (a second load
of the same records updates them). ``--format jsonl`` sets ``loader_file_format=jsonl``; without it dlt uses
its default loader for DuckDB (``insert_values``). It runs in its own virtualenv (bench/.venv-dlt, created
by target_compare.py), so it imports nothing of this project. Prints the records it read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import dlt
import orjson


def records(keys: dict[str, list[str]], counted: list[int]) -> Iterator[Any]:
    """Each RECORD's record, routed to its stream's table; the first of a stream declares its key."""
    seen: set[str] = set()
    for line in sys.stdin.buffer:
        message = orjson.loads(line)
        if message.get("type") != "RECORD":
            continue
        stream, record = message["stream"], message["record"]
        counted[0] += 1
        if stream in seen:
            yield dlt.mark.with_table_name(record, stream)
            continue
        seen.add(stream)
        hints = dlt.mark.make_hints(
            table_name=stream, primary_key=keys.get(stream, ["id"]), write_disposition="merge"
        )
        yield dlt.mark.with_hints(record, hints, create_table_variant=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", required=True, help="the DuckDB file dlt loads into")
    parser.add_argument("--keys", required=True, help="JSON: stream -> key properties")
    parser.add_argument("--format", choices=["default", "jsonl"], default="default")
    parser.add_argument("--work", required=True, help="dlt's pipelines folder (its extract/normalize files)")
    args = parser.parse_args()
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    counted = [0]
    pipeline = dlt.pipeline(
        pipeline_name="roster",
        pipelines_dir=args.work,
        destination=dlt.destinations.duckdb(args.database),
        dataset_name="roster",
    )
    resource = dlt.resource(records(json.loads(args.keys), counted), name="roster", write_disposition="merge")
    pipeline.run(resource, loader_file_format=None if args.format == "default" else args.format)
    print(counted[0])


if __name__ == "__main__":
    main()
