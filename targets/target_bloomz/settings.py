"""target-bloomz's settings: the import options an admin chooses (the seeds' Bulk Import settings), and
where the store is by default. The Singer adapter (target.py) declares them with the SDK's typing."""

from __future__ import annotations

import os
from pathlib import Path

from singer_sdk import typing as th

from target_bloomz.mapping import ImportOptions

OPTION_SETTINGS = th.PropertiesList(
    th.Property(
        "full_data",
        th.BooleanType,
        title="Full Data",
        description="Full Data: remove class members missing from the source.",
    ),
    th.Property(
        "archive",
        th.BooleanType,
        title="Archive",
        description="Archive synced classes missing from the source (Full Data only).",
    ),
    th.Property(
        "recreate_archived",
        th.BooleanType,
        title="Recreate archived classes",
        description="Re-activate archived classes the source still has.",
    ),
    th.Property(
        "keep_manual_staff",
        th.BooleanType,
        title="Do not override staff assignments",
        description="Do not override staff assignments made by hand in Bloomz.",
    ),
    th.Property(
        "scheduled",
        th.BooleanType,
        title="Scheduled import",
        description="This is the nightly scheduled import (autosync).",
    ),
    th.Property(
        "invite_teachers",
        th.BooleanType,
        title="Invite teachers",
        description="Send invitations to all staff roles.",
    ),
    th.Property(
        "invite_parents", th.BooleanType, title="Invite parents", description="Send invitations to parents."
    ),
    th.Property(
        "invite_students",
        th.BooleanType,
        title="Invite students",
        description="Send invitations to students with an e-mail or phone.",
    ),
    th.Property(
        "invite_from",
        th.StringType,
        title="Invite from",
        description="E-mail or source id of the admin invitations come from.",
    ),
    th.Property(
        "notify_to",
        th.ArrayType(th.StringType),
        title="Notify to",
        description="Community roles that receive the Bulk Import Status e-mail.",
    ),
    th.Property(
        "default_region",
        th.StringType,
        title="Phone region",
        description="Country code for phone numbers without one (US).",
    ),
)
OPTION_NAMES = tuple(f.name for f in ImportOptions.__dataclass_fields__.values())


def default_database() -> Path:
    """data/bloomz.duckdb under MELTANO_PROJECT_ROOT, else under the working directory."""
    return Path(os.environ.get("MELTANO_PROJECT_ROOT") or Path.cwd()) / "data" / "bloomz.duckdb"
