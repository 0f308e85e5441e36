"""For the taps' connection tests (`--test`): the demo district's counts per school, computed from the dump
itself, and a server that takes connections and drops them (counting how often it was tried)."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def demo_school_counts(demo_dir: Path) -> dict[str, tuple[int, int, int]]:
    """school id → (sections, students, teachers) as Clever's demo dump lists them."""
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for item in json.loads((demo_dir / "sections.json").read_text())["data"]:
        counts[item["data"]["school"]]["sections"] += 1
    for item in json.loads((demo_dir / "users.json").read_text())["data"]:
        roles = item["data"]["roles"]
        for role, label in (("student", "students"), ("teacher", "teachers")):
            if role in roles:
                schools = set(roles[role].get("schools") or []) | {roles[role].get("school")} - {None}
                for school in schools:
                    counts[school][label] += 1
    return {school: (c["sections"], c["students"], c["teachers"]) for school, c in counts.items()}


@dataclass
class DroppingServer:
    url: str
    connections: int = 0


@contextmanager
def dropping_server() -> Iterator[DroppingServer]:
    """A loopback server that accepts each connection and closes it at once, saying nothing."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    server = DroppingServer(f"http://127.0.0.1:{listener.getsockname()[1]}")
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            server.connections += 1
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join()
        listener.close()


def refused_url() -> str:
    """A loopback URL where nothing listens: connecting is refused."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
