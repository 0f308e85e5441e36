"""The pull stream: each tap says where its pull came from and whether it finished (both taps share this).

A tap that was killed, lost its connection or gave up after retries leaves its roster streams simply
stopping; the target could not tell that from an end. So ``PullTap.sync_all`` frames every sync with records
of the contract stream ``pull`` (schemas/roster/pull.json):

- ``started``, before any roster stream: the source kind, the tenant (which district), full or incremental,
  and the tap;
- ``finished``, after the last stream: each stream's records and whether it closed complete, the rows the
  tap could not read (``report_unreadable``), records it read and sends in no stream by a rule of its own
  (``report_left_out``: a user with no role it imports), streams it could not read at all
  (``report_stream_failed``), and fields the source does not provide (``report_not_provided``);
- or ``stopped``, with the reason, when the tap stops on an error.

No ``finished`` means the pull was cut short: target-bloomz does not apply it
(targets/target_bloomz/guard/pull_verdict.py).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from singer_sdk import Tap
from singer_sdk.singerlib import RecordMessage, SchemaMessage

from plugin_runtime import failures
from roster_streams import batches, contract

_REASON_LIMIT = 500  # characters of a stop reason carried to the target (the tap's log has it whole)


@dataclass(frozen=True)
class Unreadable:
    """A row the tap could not read: which roster streams miss its record, where it is, and why."""

    streams: tuple[str, ...]
    where: str
    reason: str
    record_id: str | None = None


@dataclass(frozen=True)
class LeftOut:
    """A record the tap read and sends in no roster stream by a rule of its own: the target names it."""

    collection: str  # the source's collection (OneRoster users)
    record_id: str
    where: str
    reason: str


class PullTap(Tap):
    """A tap whose sync is framed by the ``pull`` stream's started and finished (or stopped) records."""

    #: clever or oneroster: the kind of source, which picks the target's default mapping.
    source_kind: ClassVar[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._unreadable: dict[Unreadable, None] = {}  # a dict: each row once (several streams read a file)
        self._left_out: dict[LeftOut, None] = {}
        self._failed: dict[str, str] = {}
        self._not_provided: dict[tuple[str, tuple[str, ...] | None], str] = {}
        super().__init__(*args, **kwargs)

    # -- what each tap says about its source

    def pull_tenant(self) -> str | None:
        """Which district the pull reads (the Clever district id, the OneRoster district org)."""
        raise NotImplementedError

    def pull_mode(self) -> str:
        """full, or incremental when this run reads changes since a bookmark."""
        raise NotImplementedError

    def streams_reading(self, name: str) -> tuple[str, ...]:
        """The roster streams built from ``name`` (a roster stream, or a source collection such as users)."""
        return (name,)

    # -- what readers report

    def report_unreadable(self, stream: str, where: str, reason: str, record_id: str | None = None) -> None:
        """A row a reader could not read: logged once (where and why, never its content), and carried by
        the finished record so the target knows the streams built from ``stream`` miss its record."""
        entry = Unreadable(self.streams_reading(stream), where, reason, record_id)
        if entry not in self._unreadable:
            self._unreadable[entry] = None
            self.logger.error("%s: %s%s", where, reason, f" (sourcedId {record_id})" if record_id else "")

    def report_left_out(self, left_out: LeftOut) -> None:
        """A record the tap sends in no stream (not a loss: the pull stays complete), logged once by id and
        carried by the finished record, so the target names it in the run's issues."""
        if left_out not in self._left_out:
            self._left_out[left_out] = None
            self.logger.warning(
                "%s (sourcedId %s): not imported: %s", left_out.where, left_out.record_id, left_out.reason
            )

    def report_stream_failed(self, stream: str, reason: str) -> None:
        """A roster stream the tap could not read at all (it is left open: not complete)."""
        if stream not in self._failed:
            self._failed[stream] = reason
            self.logger.error("%s could not be read: %s", stream, reason)

    def report_not_provided(self, stream: str, fields: Iterable[str] | None, why: str) -> None:
        """Fields of a stream (None: the whole stream) the source does not provide: the target keeps what
        it has for them instead of blanking it."""
        key = (stream, tuple(fields) if fields is not None else None)
        if key not in self._not_provided:
            self._not_provided[key] = why
            self.logger.warning("%s: %s", stream, why)

    def rows_lost(self, stream: str) -> bool:
        """Whether ``stream`` misses records this run: a row of its source unreadable, or not provided."""
        return (
            stream in self._failed
            or any(stream in row.streams for row in self._unreadable)
            or (stream, None) in self._not_provided
        )

    # -- the frame

    # singer-sdk marks sync_all final, but only around it does a tap know it wrote nothing yet, or everything.
    def sync_all(self) -> None:  # type: ignore[misc]
        """Sync every stream between the pull's started and finished records (stopped on an error)."""
        pull_id = uuid.uuid4().hex
        schema = contract.load_schema(contract.PULL)
        self.write_message(SchemaMessage(contract.PULL, schema, schema["x-key-properties"]))
        try:
            self._write_pull(
                pull_id,
                "started",
                source=self.source_kind,
                tenant=self.pull_tenant(),
                mode=self.pull_mode(),
                tap=os.environ.get("MELTANO_EXTRACTOR_NAME") or self.name,
            )
            super().sync_all()
        except Exception as exc:
            self._write_pull(pull_id, "stopped", reason=self._stop_reason(exc))
            raise
        self._write_pull(
            pull_id,
            "finished",
            streams=self._stream_summary(),
            unreadable=[{**asdict(row), "streams": list(row.streams)} for row in self._unreadable],
            left_out=[asdict(record) for record in self._left_out],
            failed=self._failed,
            not_provided=[
                {"stream": stream, "fields": list(fields) if fields is not None else None, "why": why}
                for (stream, fields), why in self._not_provided.items()
            ],
        )

    def _write_pull(self, pull_id: str, event: str, **fields: Any) -> None:
        at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        self.write_message(
            RecordMessage(contract.PULL, {"pull_id": pull_id, "event": event, "at": at, **fields})
        )

    def _stream_summary(self) -> dict[str, dict[str, Any]]:
        """Per synced roster stream: records written (None when stream maps change them), closed complete."""
        return {
            name: {
                "records": None if batches.maps_change_records(stream) else stream.records_sent,
                "complete": stream.closed_complete,
            }
            for name, stream in self.streams.items()
            if isinstance(stream, batches.BatchingStream) and stream.selected
        }

    def _stop_reason(self, exc: Exception) -> str:
        """Why the tap stopped, for the admins: an expected failure's one line (failures.py), else only the
        error's kind (another message could carry a URL's secrets or a student's data)."""
        reason = failures.describe(exc) or f"{type(exc).__name__} (see the tap's log)"
        return reason if len(reason) <= _REASON_LIMIT else reason[: _REASON_LIMIT - 1] + "…"


def has_bookmarks(state: Mapping[str, Any], key: str) -> bool:
    """Whether any stream of a tap's state holds a bookmark ``key`` (an incremental run reads from it)."""
    return any(key in (bookmark or {}) for bookmark in (state.get("bookmarks") or {}).values())
