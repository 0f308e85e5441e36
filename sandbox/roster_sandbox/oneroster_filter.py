"""OneRoster's ``filter`` query parameter: ``field op 'value'`` clauses joined by AND or OR.

Operators: = != > >= < <= ~ (contains). ``dateLastModified`` compares as a point in time, so
``2024-01-01T00:00:00Z`` and ``2024-01-01T00:00:00.000Z`` are equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

CLAUSE = re.compile(r"\s*([A-Za-z_.]+)\s*(!=|>=|<=|=|>|<|~)\s*'([^']*)'\s*")
JOIN = re.compile(r"\s+(AND|OR)\s+")
DATE_FIELDS = {"dateLastModified", "startDate", "endDate", "birthDate", "beginDate"}


class FilterError(ValueError):
    pass


def _time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FilterError(f"{value!r} is not an ISO 8601 date or date-time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.now().astimezone().tzinfo)


def _clause(field: str, op: str, wanted: str) -> Callable[[dict[str, Any]], bool]:
    is_date = field in DATE_FIELDS
    wanted_value: Any = _time(wanted) if is_date and op != "~" else wanted

    def matches(obj: dict[str, Any]) -> bool:
        value: Any = obj
        for part in field.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return op == "!="
        if isinstance(value, list):
            return any(matches_value(str(v)) for v in value)
        return matches_value(str(value))

    def matches_value(value: str) -> bool:
        if op == "~":
            return wanted.lower() in value.lower()
        try:
            actual: Any = _time(value) if is_date else value
        except FilterError:
            return False  # a record with no date never matches a date comparison
        return {
            "=": actual == wanted_value,
            "!=": actual != wanted_value,
            ">": actual > wanted_value,
            ">=": actual >= wanted_value,
            "<": actual < wanted_value,
            "<=": actual <= wanted_value,
        }[op]

    return matches


def parse_filter(text: str) -> Callable[[dict[str, Any]], bool]:
    """A predicate over OneRoster objects; FilterError names the part that cannot be read."""
    parts = JOIN.split(text.strip())
    clauses = parts[0::2]
    joins = set(parts[1::2])
    if len(joins) > 1:
        raise FilterError("a filter may join clauses with AND or with OR, not both")
    predicates = []
    for clause in clauses:
        found = CLAUSE.fullmatch(clause)
        if not found:
            raise FilterError(f"cannot read filter clause {clause!r}; expected field op 'value'")
        predicates.append(_clause(*found.groups()))
    if joins == {"OR"}:
        return lambda obj: any(p(obj) for p in predicates)
    return lambda obj: all(p(obj) for p in predicates)
