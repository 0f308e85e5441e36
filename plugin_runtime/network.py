"""Rules every client of a roster source (and of an SMTP relay) follows on the network.

- A credential (a token, a client secret, a password) and the roster travel over TLS: a URL setting may be
  plain ``http://`` only to this machine (loopback, where the sandbox runs). ``require_tls`` refuses the rest
  before anything is sent.
- No redirect is followed: the roster comes only from the server a setting names, and no credential goes
  anywhere else. A redirect is an error naming the host it pointed to (``redirect_message``).
- A server that sends the same page again and again is stopped instead of read forever (``PageRepeats``).
"""

from __future__ import annotations

import hashlib
import ipaddress
from urllib.parse import urlsplit

import requests
from singer_sdk.exceptions import FatalAPIError

from plugin_runtime.failures import BadSetting


def is_loopback(host: str | None) -> bool:
    """Whether a host name or address is this machine."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_tls(setting: str, url: str | None, carries: str) -> None:
    """Refuse a URL setting over which ``carries`` (e.g. "the district token") would travel in clear."""
    if not url:
        return
    parts = urlsplit(str(url))
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return
    if parts.scheme == "http":
        raise BadSetting(
            f"{setting} {url[:200]}: plain http:// to another machine would send {carries} and the roster in "
            "clear; use its https:// URL (http:// is allowed only to this machine, e.g. the sandbox)"
        )
    raise BadSetting(f"{setting} {url[:200]!r} is not an https:// URL; set the server's https:// address")


def redirect_message(response: requests.Response, what: str, setting: str) -> str | None:
    """The error for a redirect answer (never followed), or None when ``response`` is not one."""
    if not response.is_redirect:
        return None
    target = urlsplit(response.headers.get("Location", ""))
    host = target.hostname or urlsplit(response.url).hostname or "?"
    return (
        f"{what}: the server answered a redirect (HTTP {response.status_code}) to {host}; redirects are not "
        f"followed (the roster is read only from the server set in {setting}, and no credential goes "
        f"elsewhere): set {setting} to the address it redirects to, if that is the district's server"
    )


class PageRepeats:
    """Notices a server that pages in a loop: a next link it gave before, or a page of records it sent before.

    One per read of a collection. Each page is remembered by a digest of its records' ids, so memory stays
    small on a collection of a million records.
    """

    def __init__(self) -> None:
        self._pages: set[bytes] = set()
        self._links: set[str] = set()

    def check(self, ids: list[str], next_url: str | None, what: str) -> None:
        """Raise ``PagingLoop`` when this page or its next link came before in this read."""
        digest = hashlib.blake2b("\n".join(ids).encode(), digest_size=16).digest()
        if ids and digest in self._pages:
            raise PagingLoop(f"{what}: the server sent a page of records it had sent before")
        if next_url is not None and next_url in self._links:
            raise PagingLoop(f"{what}: the server's next link points to a page it had sent before")
        self._pages.add(digest)
        if next_url is not None:
            self._links.add(next_url)


class PagingLoop(FatalAPIError):
    """A server pages in a loop; reading on would never end."""

    def __init__(self, message: str) -> None:
        super().__init__(
            f"{message}; its paging would never end, so the read was stopped: ask the district about its API"
        )
