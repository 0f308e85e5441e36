"""One sink per standard roster stream: it spools records to an NDJSON file for DuckDB to stage in bulk.

Nothing is checked per record here: the contract (keys, types, formats, references) is checked set-based
in SQL when the spool is staged (stage.py), so a bad record is set aside with its reason, never fatal.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import msgspec
from singer_sdk.sinks import Sink

from bloomz_sync import contract

if t.TYPE_CHECKING:
    from target_bloomz.target import TargetBloomz


# Added to every record by the SDK along with _sdc_deleted_at and _sdc_table_version, which we keep.
_SDK_BOOKKEEPING = (
    "_sdc_extracted_at",
    "_sdc_received_at",
    "_sdc_batched_at",
    "_sdc_sequence",
    "_sdc_sync_started_at",
)


class RosterSink(Sink):
    """Appends each record of one stream to ``<spool dir>/<stream>.ndjson``."""

    def __init__(self, target: TargetBloomz, stream_name: str, schema: dict, key_properties: t.Any) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.target = target

    def setup(self) -> None:
        """Open the spool file."""
        super().setup()
        self._encoder = msgspec.json.Encoder()
        self._spool = spool_file(self.target.spool_dir, self.stream_name).open("ab")

    @property
    def include_sdc_metadata_properties(self) -> bool:
        """Keep ``_sdc_deleted_at`` and ``_sdc_table_version``: deletions and ACTIVATE_VERSION need them."""
        return True

    def get_validator(self) -> None:
        """No per-record JSON Schema validation: staging validates the whole batch in SQL."""
        return

    def _parse_timestamps_in_record(self, record: dict, schema: dict, treatment: t.Any) -> None:
        """Leave date strings as they came: staging checks and casts them in SQL.

        The SDK's per-record pass looked up every field's schema for a date format; on a district's
        million records it was the largest cost of reading input (bench/README.md, "target-bloomz").
        """

    def preprocess_record(self, record: dict, context: dict) -> dict:
        """Let a roster record without its key through (as null): staging sets it aside and reports it.

        Streams outside the contract are not staged, so for them the SDK's own missing-key error stands.
        """
        if self.stream_name in contract.STREAMS:
            for key in self.key_properties:
                record.setdefault(key, None)
        return record

    def process_record(self, record: dict, context: dict) -> None:
        """Spool the record as one NDJSON line, without the SDK's bookkeeping fields (half the bytes)."""
        for name in _SDK_BOOKKEEPING:
            del record[name]
        self._spool.write(self._encoder.encode(record))
        self._spool.write(b"\n")

    def process_batch(self, context: dict) -> None:
        """Flush the spool; the records reach the store at the end of input, in one plan and apply."""
        self._spool.flush()

    def activate_version(self, new_version: int) -> None:
        """The stream was pulled complete: remember it for the run (only complete streams may remove)."""
        self.target.mark_complete(self.stream_name, new_version)

    def clean_up(self) -> None:
        """Close the spool file."""
        self._spool.close()
        super().clean_up()


def spool_file(spool_dir: Path, stream: str) -> Path:
    """Where a stream's records are spooled."""
    return spool_dir / f"{stream}.ndjson"
