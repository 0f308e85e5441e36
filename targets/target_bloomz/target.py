"""target-bloomz: the standard roster streams into the Bloomz store."""

from __future__ import annotations

from singer_sdk import Target
from singer_sdk import typing as th


class TargetBloomz(Target):
    """Stages, maps, plans and applies a roster to the Bloomz store."""

    name = "target-bloomz"
    config_jsonschema = th.PropertiesList(
        th.Property("database", th.StringType, description="Path of the Bloomz store (DuckDB file)."),
    ).to_dict()


if __name__ == "__main__":
    TargetBloomz.cli()
