"""A real HTTP server answering OneRoster collections from recorded response bodies (public fixtures).

A folder of JSON files, each a OneRoster list response (``{"users": [...]}``); a collection is every list
under its name, in file order. Pages follow ``limit`` and ``offset``, as a server that sends no ``Link``
header. Any bearer token is accepted: the fixtures are what is tested, not authentication.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


def collections(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """Every collection the folder's response bodies hold."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.json")):
        for name, items in json.loads(path.read_text()).items():
            found.setdefault(name, []).extend(items)
    return found


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve the folder's collections under ``<url>/ims/oneroster/v1p1/``; yield ``<url>``."""
    data = collections(folder)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            name = url.path.rstrip("/").rsplit("/", 1)[-1]
            query = parse_qs(url.query)
            offset, limit = int(query.get("offset", ["0"])[0]), int(query.get("limit", ["100"])[0])
            body = json.dumps({name: data.get(name, [])[offset : offset + limit]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
