"""OAuth 1.0a signing, checked by an RFC 5849 verifier that is itself checked on the RFC's example."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import requests
from tap_oneroster.auth import OAuth1Signer


def enc(value: str) -> str:
    """RFC 3986 percent-encoding, as RFC 5849 section 3.6 requires."""
    return quote(value, safe="~-._")


def base_string(method: str, url: str, params: list[tuple[str, str]]) -> str:
    """RFC 5849 section 3.4.1: METHOD&enc(base URI)&enc(sorted, encoded parameters)."""
    parts = urlsplit(url)
    base_uri = f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"
    pairs = sorted((enc(k), enc(v)) for k, v in params)
    return "&".join([method.upper(), enc(base_uri), enc("&".join(f"{k}={v}" for k, v in pairs))])


def test_the_verifier_reproduces_the_rfc_5849_base_string_example() -> None:
    # RFC 5849 section 3.4.1.1: query, body and oauth parameters of the example request.
    params = [
        ("b5", "=%3D"),
        ("a3", "a"),
        ("c@", ""),
        ("a2", "r b"),
        ("c2", ""),
        ("a3", "2 q"),
        ("oauth_consumer_key", "9djdj82h48djs9d2"),
        ("oauth_token", "kkk9d7dh3k39sjv7"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "137131201"),
        ("oauth_nonce", "7d8f3e4a"),
    ]
    expected = (
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%25"
        "40%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_metho"
        "d%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
    )
    assert base_string("POST", "http://example.com/request", params) == expected


SECRET = "s3cr3t+/="


def sign(url: str, secret: str = SECRET) -> tuple[requests.PreparedRequest, dict[str, str]]:
    request = requests.Request("GET", url).prepare()
    OAuth1Signer(client_id="bloomz-client", client_secret=secret).authenticate_request(request)
    header = request.headers["Authorization"]
    assert header.startswith("OAuth ")
    oauth = {k: unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', header)}
    return request, oauth


def test_requests_are_signed_with_hmac_sha256_over_the_query_parameters() -> None:
    url = (
        "http://127.0.0.1:8765/ims/oneroster/v1p1/users?limit=100&offset=200"
        "&filter=dateLastModified%3E%272026-01-01T00%3A00%3A00Z%27"
    )
    secret = SECRET
    request, oauth = sign(url, secret)

    assert oauth["oauth_signature_method"] == "HMAC-SHA256"
    assert oauth["oauth_consumer_key"] == "bloomz-client"
    assert oauth["oauth_version"] == "1.0"
    assert "oauth_token" not in oauth  # two-legged
    signed_params = [(k, v) for k, v in oauth.items() if k not in ("oauth_signature", "realm")]
    query = parse_qsl(urlsplit(str(request.url)).query, keep_blank_values=True)
    assert ("filter", "dateLastModified>'2026-01-01T00:00:00Z'") in query
    text = base_string("GET", url, signed_params + query)
    key = enc(secret) + "&"
    expected = base64.b64encode(hmac.new(key.encode(), text.encode(), hashlib.sha256).digest()).decode()
    assert oauth["oauth_signature"] == expected


def test_every_request_gets_a_fresh_nonce() -> None:
    _, first = sign("http://127.0.0.1/ims/oneroster/v1p1/orgs?limit=10&offset=0")
    _, second = sign("http://127.0.0.1/ims/oneroster/v1p1/orgs?limit=10&offset=0")

    assert first["oauth_nonce"] != second["oauth_nonce"]
