"""The district token: given directly, or looked up with the app's client id and secret."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from plugin_runtime import network, unreachable
from tap_clever.errors import CleverError


@dataclass(frozen=True)
class DistrictToken:
    token: str
    # The scopes the district shared, when Clever told us (the token listing does; a bare token does not).
    scopes: tuple[str, ...] | None = None


def resolve_district_token(config: dict[str, Any]) -> DistrictToken:
    """The configured district token, or the one Clever lists for ``district_id`` under the app."""
    client_id, client_secret = config.get("client_id"), config.get("client_secret")
    if config.get("district_token") and not (client_id and client_secret):
        return DistrictToken(config["district_token"])
    if not (client_id and client_secret and config.get("district_id")):
        raise CleverError(
            "tap-clever needs either district_token, or client_id, client_secret and district_id "
            "to look the district token up. Set them in the tap-clever settings."
        )
    listed = _listed_tokens(config["oauth_tokens_url"], client_id, client_secret, config["district_id"])
    for entry in listed:
        owner = entry.get("owner") or {}
        if owner.get("id") != config["district_id"]:
            continue
        if config.get("district_token") and entry.get("access_token") != config["district_token"]:
            continue
        return DistrictToken(entry["access_token"], tuple(entry.get("scopes") or ()))
    raise CleverError(
        f"Clever lists no district token for district {config['district_id']} under this app. "
        "The district has not connected the app yet (or disconnected it): ask the district to add the app "
        "in its Clever dashboard, then try again."
    )


def _listed_tokens(url: str, client_id: str, client_secret: str, district_id: str) -> list[dict[str, Any]]:
    try:
        response = requests.get(
            url,
            params={"owner_type": "district", "district": district_id},
            auth=(client_id, client_secret),
            timeout=60,
            allow_redirects=False,  # the app's secret goes to oauth_tokens_url and nowhere else
        )
    except requests.RequestException as exc:
        text = unreachable.message("Clever's token listing", url, exc, "oauth_tokens_url")
        raise CleverError(text) from None
    if redirect := network.redirect_message(response, f"Clever's token listing at {url}", "oauth_tokens_url"):
        raise CleverError(redirect)
    if response.status_code in (401, 403):
        raise CleverError(
            f"Clever refused the app's client_id/client_secret at {url} (HTTP {response.status_code}). "
            "Check both settings against the app's page in the Clever developer dashboard."
        )
    if response.status_code != 200:
        raise CleverError(f"Clever's token listing at {url} answered HTTP {response.status_code}.")
    try:
        body = response.json()
    except ValueError as exc:
        raise CleverError(
            f"Clever's token listing at {url} did not answer JSON (is oauth_tokens_url right?)"
        ) from exc
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise CleverError(f"Clever's token listing at {url} has no 'data' list.")
    return data
