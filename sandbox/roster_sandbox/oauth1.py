"""OAuth 1.0a two-legged request signing (HMAC-SHA256), checked with oauthlib's RFC 5849 primitives."""

from __future__ import annotations

import time

from oauthlib.oauth1.rfc5849 import signature, utils

MAX_CLOCK_SKEW = 600  # seconds; a signature older than this is refused


def check(
    method: str, url: str, query: str, authorization: str, client_id: str, client_secret: str
) -> str | None:
    """None when the Authorization header signs this request with the client's secret; else the reason.

    ``url`` is the request URL without its query, as the client addressed it (scheme, host, port, path).
    Nonces are not remembered: an HTTP client that retries re-sends the very same signed request.
    """
    try:
        header_params = {k: utils.unescape(v) for k, v in utils.parse_authorization_header(authorization)}
    except (ValueError, IndexError):
        return "malformed OAuth Authorization header"
    if header_params.get("oauth_consumer_key") != client_id:
        return "unknown oauth_consumer_key"
    if header_params.get("oauth_signature_method") != "HMAC-SHA256":
        return "oauth_signature_method must be HMAC-SHA256"
    try:
        timestamp = int(header_params.get("oauth_timestamp", ""))
    except ValueError:
        return "oauth_timestamp missing or not a number"
    if abs(time.time() - timestamp) > MAX_CLOCK_SKEW:
        return "oauth_timestamp too far from the server's clock"
    try:
        params = signature.collect_parameters(uri_query=query, headers={"Authorization": authorization})
    except ValueError:
        return "query string is not RFC 3986 encoded"
    base_string = signature.signature_base_string(
        method.upper(), signature.base_string_uri(url), signature.normalize_parameters(params)
    )
    expected = signature.sign_hmac_sha256(base_string, client_secret, "")
    if not signature.safe_string_equals(expected, header_params.get("oauth_signature", "")):
        return "OAuth signature does not match"
    return None
