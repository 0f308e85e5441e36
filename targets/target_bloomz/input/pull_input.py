"""The pull records of one input, as the reader meets them: started, finished or stopped, and where the
input broke off. guard/pull_verdict.py judges from them whether the pull is complete."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from roster_streams import contract

_VALIDATOR = contract.validator(contract.PULL)


@dataclass
class PullInput:
    """The pull records of one input, and where the input broke off."""

    started: dict[str, Any] | None = None
    finished: dict[str, Any] | None = None
    stopped: dict[str, Any] | None = None
    announced: bool = False  # the pull stream's SCHEMA came: a tap of this contract began
    seen: dict[str, None] = field(default_factory=dict)  # streams in the order their first message came
    problems: list[str] = field(default_factory=list)  # the input broke the pull contract

    def take(self, record: Any) -> None:
        """One RECORD of the pull stream."""
        error = next(iter(_VALIDATOR.iter_errors(record)), None)
        if error is not None:
            self.problems.append(f"a pull record does not follow schemas/roster/pull.json: {error.message}")
            return
        event = record["event"]
        if event == "started" and self.started is not None:
            self.problems.append("two pulls were sent as one input")
        elif event != "started" and (self.started is None or record["pull_id"] != self.started["pull_id"]):
            self.problems.append(f"a pull {event} that did not start in this input")
        setattr(self, event, record)

    def saw(self, stream: str, kind: str) -> None:
        """A message of a roster (or other) stream came."""
        if stream not in self.seen:
            self.seen[stream] = None
        if self.finished is not None and kind in ("RECORD", "BATCH") and stream in contract.STREAMS:
            self.problems.append(f"{stream} records came after the pull finished")
            self.finished = None  # what finished is not what arrived

    def broke_off(self, line: int) -> None:
        """The input ended in the middle of a message (the tap was killed while writing)."""
        self.problems.append(f"the input ended in the middle of message {line}")

    @property
    def began(self) -> bool:
        """Whether anything of a pull came (a pull record, or any roster stream)."""
        return (
            self.announced
            or bool(self.started or self.stopped)
            or any(s in contract.STREAMS for s in self.seen)
        )
