"""The three ways OneRoster servers authenticate: OAuth 2 client credentials, OAuth 1.0a, a bearer token."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Any

import requests
from oauthlib import oauth1
from singer_sdk.authenticators import APIAuthenticatorBase, BearerTokenAuthenticator, OAuthAuthenticator
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from plugin_runtime import unreachable

# Refresh a token this long before the server says it expires, so no request carries a stale one.
REFRESH_MARGIN_SECONDS = 60


class OAuth2ClientCredentials(OAuthAuthenticator):
    """OAuth 2 client credentials (OneRoster 1.2, Skyward Qmlativ): Basic client auth at `token_url`."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scopes: str | None,
        max_tries: int = 6,
        backoff_factor: float = 1.0,
    ) -> None:
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        super().__init__(
            auth_endpoint=token_url,
            oauth_scopes=scopes or None,
            oauth_headers={"Authorization": f"Basic {basic}"},
            client_id=client_id,
            client_secret=client_secret,
        )
        self._max_tries = max(1, max_tries)
        self._backoff_factor = backoff_factor
        self._token_status: int | None = None

    @property
    def oauth_request_body(self) -> dict[str, Any]:
        body = {"grant_type": "client_credentials"}
        if self.oauth_scopes:
            body["scope"] = self.oauth_scopes
        return body

    def is_token_valid(self) -> bool:
        if self.last_refreshed is None:
            return False
        if not self.expires_in:
            return True
        margin = min(REFRESH_MARGIN_SECONDS, self.expires_in / 10)
        age = (datetime.now(UTC) - self.last_refreshed).total_seconds()
        return age < self.expires_in - margin

    def invalidate(self) -> None:
        """Forget the token (the server answered 401), so the next request fetches a new one."""
        self.last_refreshed = None

    def update_access_token(self) -> None:
        """Fetch a token. A busy or failing token endpoint is tried again with backoff (the SDK fetches
        tokens outside its request retries); a refusal stops the run with what to check."""
        for attempt in range(1, self._max_tries + 1):
            self._token_status = None
            try:
                super().update_access_token()
                return
            except (KeyError, TypeError):  # an answer that is JSON but not a token
                raise FatalAPIError(
                    f"OneRoster token request to {self.auth_endpoint}: the answer holds no access_token; "
                    "check the token URL (Skyward: the Authentication URL)"
                ) from None
            except (RuntimeError, requests.RequestException) as exc:
                status = self._token_status
                if status is not None and status != 429 and status < 500:
                    raise FatalAPIError(self._refusal(status)) from exc
                why = f"HTTP {status}" if status else type(exc).__name__
                if (
                    attempt == self._max_tries
                    and status is None
                    and isinstance(exc, requests.RequestException)
                ):
                    where = unreachable.message(
                        "the OneRoster token endpoint", self.auth_endpoint, exc, "token_url"
                    )
                    raise unreachable.Unreachable(where) from None
                if attempt == self._max_tries:
                    message = f"OneRoster token request to {self.auth_endpoint} kept failing ({why})"
                    raise RetriableAPIError(f"{message} after {attempt} tries; try again later") from exc
                wait = min(self._backoff_factor * 2 ** (attempt - 1), 60.0)
                self.logger.warning("OneRoster token request failed (%s); trying again in %.1f s", why, wait)
                time.sleep(wait)

    def _refusal(self, status: int) -> str:
        hint = (
            "check the Client ID and Secret Key"
            if status in (400, 401, 403)
            else "check the token URL (Skyward: the Authentication URL)"
        )
        return f"OneRoster token request to {self.auth_endpoint} was refused (HTTP {status}): {hint}"

    def handle_error(self, *, content: str, status_code: int | None) -> None:
        # Only the status is kept: a token endpoint's body may echo what it was sent.
        self._token_status = status_code


class OAuth1Signer(APIAuthenticatorBase):
    """OAuth 1.0a two-legged request signing with HMAC-SHA256 (OneRoster 1.1, ClassLink).

    oauthlib builds the signature base string from the method, the URL and every query parameter
    (limit, offset, filter), RFC 3986 encoded, with the key `enc(secret)&` (no token secret).
    """

    def __init__(self, *, client_id: str, client_secret: str) -> None:
        super().__init__()
        self._client_id = client_id
        self._client_secret = client_secret

    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        client = oauth1.Client(
            self._client_id,
            client_secret=self._client_secret,
            signature_method=oauth1.SIGNATURE_HMAC_SHA256,
            signature_type=oauth1.SIGNATURE_TYPE_AUTH_HEADER,
        )
        _, headers, _ = client.sign(str(request.url), http_method=str(request.method))
        request.headers["Authorization"] = headers["Authorization"]
        return request


def build_authenticator(config: dict[str, Any]) -> APIAuthenticatorBase:
    """The authenticator the `auth` setting names, from the tap's config."""
    method = config.get("auth", "oauth2")
    if method == "oauth2":
        if not config.get("token_url"):
            raise ValueError("auth is oauth2 but token_url is not set (Skyward: the Authentication URL)")
        return OAuth2ClientCredentials(
            token_url=config["token_url"],
            client_id=config.get("client_id", ""),
            client_secret=config.get("client_secret", ""),
            scopes=config.get("scopes"),
            max_tries=int(config.get("max_tries", 6)),
            backoff_factor=float(config.get("backoff_factor", 1)),
        )
    if method == "oauth1":
        return OAuth1Signer(
            client_id=config.get("client_id", ""), client_secret=config.get("client_secret", "")
        )
    if method == "bearer":
        return BearerTokenAuthenticator(token=config.get("access_token", ""))
    raise ValueError(f"auth must be oauth2, oauth1 or bearer, not {method!r}")
