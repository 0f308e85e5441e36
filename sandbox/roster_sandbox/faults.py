"""Switchable, seeded faults: what a real district's API does on a bad night.

A rule fires on requests whose path starts with ``path``: it lets ``after`` matching requests through, then
fires ``count`` times (or forever when ``count`` is None), each time with ``probability`` drawn from a
generator seeded with the fault set's seed, so a run with the same seed fails the same way.

Kinds:
- ``status``: answer ``status`` (500, 502, 503, ...) with the API's JSON error body;
- ``rate_limit``: 429 with ``X-RateLimit-Reset`` ``reset_after`` seconds ahead (a burst is ``count`` of them);
- ``slow``: wait ``delay`` seconds, then answer normally;
- ``cut``: announce the full Content-Length, send half the body, then drop the connection;
- ``html``: an HTML error page with ``status`` (a proxy's 502, or a 200 from a wrong endpoint);
- ``expire_tokens``: every OAuth 2 token issued so far expires now, and this request is refused with 401;
- ``body``: answer ``status`` with ``body`` as ``content_type`` (bad JSON, a wrong shape: any answer at all);
- ``redirect``: answer 302 to ``location`` (another host, by default);
- ``endless``: answer normally, but with a next link (Clever's ``links``, OneRoster's ``Link`` header) to the
  same page again under a new URL, so a client that follows it pages forever.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from plugin_runtime.failures import Failure

KINDS = ("status", "rate_limit", "slow", "cut", "html", "expire_tokens", "body", "redirect", "endless")


class FaultError(Failure, ValueError):
    """A fault rule that cannot be understood; the message says which field and what is allowed."""


@dataclass
class FaultRule:
    kind: str
    status: int = 503
    path: str = ""
    after: int = 0
    count: int | None = 1
    probability: float = 1.0
    delay: float = 1.0
    reset_after: int = 1
    body: str = ""
    content_type: str = "application/json"
    location: str = "https://elsewhere.example/"
    seen: int = field(default=0, compare=False)
    fired: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FaultError(f"unknown fault kind {self.kind!r}; allowed: {', '.join(KINDS)}")
        if not 0.0 <= self.probability <= 1.0:
            raise FaultError(f"fault probability must be within 0..1, got {self.probability}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRule:
        known = {f.name for f in fields(cls)} - {"seen", "fired"}
        unknown = set(data) - known
        if unknown:
            raise FaultError(
                f"unknown fault field(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(known))}"
            )
        if "kind" not in data:
            raise FaultError("a fault rule needs a 'kind'")
        return cls(**data)

    @classmethod
    def parse(cls, text: str) -> FaultRule:
        """The command-line form ``KIND[:key=value,...]``, e.g. ``status:status=503,count=3,path=/v3.0``."""
        kind, _, rest = text.partition(":")
        data: dict[str, Any] = {"kind": kind}
        for part in filter(None, rest.split(",")):
            key, sep, value = part.partition("=")
            if not sep:
                raise FaultError(f"fault option {part!r} in {text!r} is not key=value")
            data[key] = _coerce(key, value)
        return cls.from_dict(data)


def _coerce(key: str, value: str) -> Any:
    if key in ("path", "kind", "body", "content_type", "location"):
        return value
    if key == "count" and value in ("none", "forever", ""):
        return None
    try:
        return float(value) if key in ("probability", "delay") else int(value)
    except ValueError as exc:
        raise FaultError(f"fault option {key}={value!r} is not a number") from exc


class Faults:
    """The active fault rules; thread-safe because the admin endpoint and requests share it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seed = 0
        self.rules: list[FaultRule] = []
        self._random = random.Random(0)

    def set(self, rules: list[FaultRule], seed: int = 0) -> None:
        with self._lock:
            self.seed = seed
            self.rules = list(rules)
            self._random = random.Random(seed)

    def clear(self) -> None:
        self.set([], 0)

    def pick(self, path: str) -> FaultRule | None:
        """The rule that fires for this request, if any (counting the request against every matching rule)."""
        with self._lock:
            chosen = None
            for rule in self.rules:
                if not path.startswith(rule.path):
                    continue
                rule.seen += 1
                if chosen or rule.seen <= rule.after:
                    continue
                if rule.count is not None and rule.fired >= rule.count:
                    continue
                if rule.probability < 1.0 and self._random.random() >= rule.probability:
                    continue
                rule.fired += 1
                chosen = rule
            return chosen

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"seed": self.seed, "rules": [asdict(rule) for rule in self.rules]}
