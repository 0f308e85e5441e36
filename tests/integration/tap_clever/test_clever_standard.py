"""singer-sdk's standard tap tests, run against the sandbox serving Clever's demo district."""

from __future__ import annotations

from typing import Any

import pytest
from roster_sandbox.testing import Sandbox
from singer_sdk.testing import get_tap_test_class
from tap_clever.tap import TapClever

# Filled with the sandbox's address before the suite's runner syncs (the runner keeps this very dict).
CONFIG: dict[str, Any] = {"district_token": "sandbox-district-token"}

_StandardTests = get_tap_test_class(TapClever, config=CONFIG)


class TestTapCleverStandard(_StandardTests):  # type: ignore[misc,valid-type]
    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _point_at_sandbox(cls, demo_sandbox: Sandbox) -> None:
        CONFIG.update(district_token=demo_sandbox.token, api_url=demo_sandbox.clever_api_url)
