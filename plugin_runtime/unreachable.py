"""What a tap says when it cannot connect to its server: why, and what to do, in one line; and the quiet
log of a connection test (`--test`), which both taps share.

A connection that could not be made (refused, unknown host, timed out) is not worth retrying in a
connection test: the admin is waiting for an answer, and the answer is to start the server or fix the URL.
``fail_fast`` turns it into a FatalAPIError, which singer-sdk does not retry. A sync does retry (a night's
network may come back), and ``explained`` gives its last failure the same one line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from singer_sdk.exceptions import FatalAPIError

from plugin_runtime.network import is_loopback


class Unreachable(FatalAPIError):
    """The server could not be reached; the message says why and what to do."""


def reason(exc: requests.RequestException) -> str:
    """Why the connection failed, in words: refused, unknown host, timed out, or the exception's class."""
    text = str(exc)
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if "Connection refused" in text or "NewConnectionError" in text:
        return "connection refused"
    if "Name or service not known" in text or "NameResolutionError" in text or "nodename" in text:
        return "unknown host"
    return type(exc).__name__


def message(server: str, url: str, exc: requests.RequestException, setting: str) -> str:
    """``could not connect to <server> at <url> (<reason>): <what to do>``."""
    parts = urlsplit(url)
    where = f"{parts.scheme}://{parts.netloc}"
    if is_loopback(parts.hostname):
        todo = (
            f"is the local sandbox running? Start it with `roster-sandbox serve --port {parts.port or 80} "
            f"--clever-data DIR` (the demo district is ../shared/reference/clever/demo-district), "
            f"or set {setting} to the real server"
        )
    else:
        todo = f"check {setting} and this machine's network access to {parts.hostname}"
    return f"could not connect to {server} at {where} ({reason(exc)}): {todo}."


def fail_fast(
    func: Callable[..., requests.Response], testing: bool, server: str, url: str, setting: str
) -> Callable[..., requests.Response]:
    """``func`` (one HTTP attempt) raising :class:`Unreachable` at once, when ``testing`` and the
    connection could not be made; otherwise a connection error stays retryable."""
    return explained(func, server, url, setting) if testing else func


def explained(
    func: Callable[..., requests.Response], server: str, url: str, setting: str
) -> Callable[..., requests.Response]:
    """``func`` raising :class:`Unreachable` (why, and what to do) when the connection could not be made;
    around the SDK's retries, this is the run's last word once they are spent."""

    def call(*args: Any, **kwargs: Any) -> requests.Response:
        try:
            return func(*args, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise Unreachable(message(server, url, exc, setting)) from None

    return call


def quiet_logs(tap_name: str) -> None:
    """Only warnings from singer-sdk and the tap while a report is written: no METRIC or paging lines."""
    for name in ("singer_sdk", "singer_sdk.metrics", tap_name):
        logging.getLogger(name).setLevel(logging.WARNING)
