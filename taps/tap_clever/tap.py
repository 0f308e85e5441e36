"""tap-clever: Clever Data API v3 as the standard roster streams."""

from __future__ import annotations

from singer_sdk import Tap
from singer_sdk import typing as th


class TapClever(Tap):
    """Reads a district's roster from Clever."""

    name = "tap-clever"
    config_jsonschema = th.PropertiesList(
        th.Property("district_token", th.StringType, secret=True, description="Clever district auth token."),
        th.Property("api_url", th.StringType, default="https://api.clever.com", description="Clever API root."),
    ).to_dict()

    def discover_streams(self) -> list:
        return []


if __name__ == "__main__":
    TapClever.cli()
