"""tap-oneroster: OneRoster 1.1/1.2 REST and CSV bundles as the standard roster streams."""

from __future__ import annotations

from singer_sdk import Tap
from singer_sdk import typing as th


class TapOneRoster(Tap):
    """Reads a district's roster from a OneRoster server or CSV bundle."""

    name = "tap-oneroster"
    config_jsonschema = th.PropertiesList(
        th.Property("base_url", th.StringType, description="OneRoster server URL."),
    ).to_dict()

    def discover_streams(self) -> list:
        return []


if __name__ == "__main__":
    TapOneRoster.cli()
