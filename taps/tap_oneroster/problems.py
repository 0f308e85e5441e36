"""What the tap could not read: one place that gathers them for the run's report."""

from __future__ import annotations

from typing import NamedTuple


class Problem(NamedTuple):
    """A row the tap could not read (an error: the row is left out), or a value in a row it could not
    (a warning: the row is read without it). ``where`` names the file and line, or the request."""

    collection: str  # the OneRoster collection the row belongs to: users, enrollments, ...
    where: str  # "users.csv line 12", or "GET /users"
    reason: str
    record_id: str | None = None  # the row's sourcedId, when it could be read
    severity: str = "error"

    def __str__(self) -> str:
        row = f" (sourcedId {self.record_id})" if self.record_id else ""
        return f"{self.where}{row}: {self.reason}"
