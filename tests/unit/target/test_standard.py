"""singer-sdk's standard target tests, run against target-bloomz with a fresh store."""

from __future__ import annotations

import tempfile
from pathlib import Path

from singer_sdk.testing import get_target_test_class
from target_bloomz.target import TargetBloomz

_STORE = Path(tempfile.mkdtemp(prefix="target-bloomz-standard-")) / "bloomz.duckdb"

TestTargetBloomzStandard = get_target_test_class(TargetBloomz, config={"database": str(_STORE)})
