"""What one running sandbox knows: its settings, the district on disk, issued tokens, rate-limit windows."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from roster_sandbox.district import LiveDistrict
from roster_sandbox.faults import Faults

# Public, documented defaults of a local test server (not secrets): see `roster-sandbox serve --help`.
DEFAULT_TOKEN = "sandbox-district-token"  # noqa: S105
DEFAULT_CLIENT_ID = "sandbox-client-id"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105
CLEVER_SCOPES = (
    "read:district_admins",
    "read:school_admins",
    "read:schools",
    "read:sections",
    "read:students",
    "read:student_contacts",
    "read:teachers",
    "read:terms",
    "read:courses",
)
ONEROSTER_11_BASE = "/ims/oneroster/v1p1"
ONEROSTER_12_BASE = "/ims/oneroster/rostering/v1p2"
ONEROSTER_TOKEN_PATH = "/oauth2/token"  # noqa: S105


@dataclass
class Settings:
    data_dir: Path
    token: str = DEFAULT_TOKEN
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    scopes: tuple[str, ...] = CLEVER_SCOPES
    rate_limit: int = 1200  # Clever requests per minute per token; 0 switches the limit off
    oneroster_11_base: str = ONEROSTER_11_BASE
    oneroster_12_base: str = ONEROSTER_12_BASE
    oneroster_token_path: str = ONEROSTER_TOKEN_PATH
    token_lifetime: int = 3600  # seconds an OAuth 2 access token lives
    max_page: int = 0  # OneRoster page-size clamp; 0 means no clamp
    total_count_header: bool = True
    link_header: bool = True


@dataclass
class RateWindow:
    start: float
    used: int = 0


@dataclass
class SandboxState:
    settings: Settings
    district: LiveDistrict
    faults: Faults = field(default_factory=Faults)
    # OAuth 2 access token -> expiry (monotonic-free wall clock, since clients see expires_in)
    oauth2_tokens: dict[str, float] = field(default_factory=dict)
    rate_windows: dict[str, RateWindow] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, settings: Settings) -> SandboxState:
        return cls(settings=settings, district=LiveDistrict(settings.data_dir))

    def issue_oauth2_token(self) -> str:
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.oauth2_tokens[token] = time.time() + self.settings.token_lifetime
        return token

    def oauth2_token_valid(self, token: str) -> bool:
        expiry = self.oauth2_tokens.get(token)
        return expiry is not None and time.time() < expiry

    def expire_oauth2_tokens(self) -> None:
        with self.lock:
            self.oauth2_tokens.clear()

    def take_rate(self, token: str) -> int | None:
        """Count one request for a token; returns the window's reset time (Unix) when over the limit."""
        limit = self.settings.rate_limit
        if not limit:
            return None
        now = time.time()
        with self.lock:
            window = self.rate_windows.get(token)
            if window is None or now >= window.start + 60:
                window = self.rate_windows[token] = RateWindow(start=now)
            window.used += 1
            if window.used > limit:
                return int(window.start + 60) + 1
        return None
