"""Expected failures: what ends a command with one clear line instead of a traceback.

An expected failure is bad input, a bad mapping file, a refusal ("sync in progress", Archive without Full
Data), a held run or an error of the source: its message names what failed, where, and what to do, and holds
no personal data. The project's own are ``Failure``s; ``describe`` also knows those of the libraries the
executables are built on. How an executable ends on one: executables.py.
"""

from __future__ import annotations

import logging
import os
from urllib.parse import urlsplit

import requests
from singer_sdk.exceptions import FatalAPIError, RecordsWithoutSchemaException, RetriableAPIError
from singer_sdk.singerlib.exceptions import InvalidInputLine


class Failure(Exception):
    """An expected failure of the project's own code: its text is the one line the user reads."""


class BadInput(Failure, ValueError):
    """Input that cannot be read (a Singer message, a BATCH file, a source file); the text says where."""


class BadSetting(Failure, ValueError):
    """A setting that is missing, wrong, or unsafe (a credential over plain HTTP); the text names it."""


# Expected failures raised by the libraries the executables are built on (singer-sdk's input checks, the
# taps' source errors).
_LIBRARY_FAILURES = (InvalidInputLine, RecordsWithoutSchemaException, FatalAPIError)


def describe(error: BaseException) -> str | None:
    """The one line an expected failure ends with; None for a bug (it keeps its traceback)."""
    if isinstance(error, RetriableAPIError):
        return f"{error}, and kept failing after retries; run again later"
    if isinstance(error, requests.RequestException):
        url = error.request.url if error.request is not None else None
        where = urlsplit(url).netloc if url else "the server"
        return f"could not reach {where} ({type(error).__name__}); check its URL setting and the network"
    if isinstance(error, (Failure, *_LIBRARY_FAILURES)):
        return str(error)
    return None


def debugging(logger: logging.Logger | None = None) -> bool:
    """Whether tracebacks of expected failures are wanted too (DEBUG log level)."""
    if logger is not None and logger.isEnabledFor(logging.DEBUG):
        return True
    return os.environ.get("LOGLEVEL", "").upper() == "DEBUG"
