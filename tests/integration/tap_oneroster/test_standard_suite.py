"""singer-sdk's standard tap tests against the sandbox, for OneRoster 1.1 and 1.2 and each auth method."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from roster_sandbox.testing import Sandbox
from singer_sdk.testing import get_tap_test_class
from singer_sdk.testing.runners import TapTestRunner
from tap_oneroster.tap import TapOneRoster

from tests.support.oneroster_tap import sandbox_config

# The suite builds its test list from a tap made with this config (no request is sent while doing so);
# each class below then runs it against the session's sandbox.
_PLACEHOLDER = {"base_url": "http://127.0.0.1:9", "client_id": "x", "client_secret": "x", "token_url": "x"}
StandardTapTests: Any = get_tap_test_class(TapOneRoster, config=_PLACEHOLDER)


def _runner(config: dict[str, Any]) -> TapTestRunner:
    runner = TapTestRunner(TapOneRoster, config=config, parse_env_config=False)
    runner.sync_all()
    return runner


class TestOneRoster11OAuth2(StandardTapTests):
    @pytest.fixture(scope="class")
    @classmethod
    def runner(cls, demo_sandbox: Sandbox) -> TapTestRunner:
        return _runner(sandbox_config(demo_sandbox, "1.1", "oauth2"))


class TestOneRoster12OAuth2(StandardTapTests):
    @pytest.fixture(scope="class")
    @classmethod
    def runner(cls, demo_sandbox: Sandbox) -> TapTestRunner:
        return _runner(sandbox_config(demo_sandbox, "1.2", "oauth2"))


class TestOneRoster11OAuth1(StandardTapTests):
    @pytest.fixture(scope="class")
    @classmethod
    def runner(cls, demo_sandbox: Sandbox) -> TapTestRunner:
        return _runner(sandbox_config(demo_sandbox, "1.1", "oauth1"))


class TestOneRoster12OAuth1(StandardTapTests):
    @pytest.fixture(scope="class")
    @classmethod
    def runner(cls, demo_sandbox: Sandbox) -> TapTestRunner:
        return _runner(sandbox_config(demo_sandbox, "1.2", "oauth1"))


class TestOneRoster12Bearer(StandardTapTests):
    @pytest.fixture(scope="class")
    @classmethod
    def runner(cls, demo_sandbox: Sandbox) -> TapTestRunner:
        token = requests.post(
            demo_sandbox.oneroster_token_url,
            data={"grant_type": "client_credentials"},
            auth=(demo_sandbox.client_id, demo_sandbox.client_secret),
            timeout=10,
        ).json()["access_token"]
        return _runner(sandbox_config(demo_sandbox, "1.2", "bearer", access_token=token))
