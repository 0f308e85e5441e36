"""The real tap-clever executable against a sandbox, and what it wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roster_sandbox.testing import Sandbox

TAP = str(Path(sys.executable).parent / "tap-clever")


@dataclass
class TapRun:
    returncode: int
    messages: list[dict[str, Any]]
    stderr: str
    by_stream: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream]

    def of_stream(self, stream: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("stream") == stream]

    @property
    def state(self) -> dict[str, Any]:
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else {}


def run_tap(
    tmp_path: Path, config: dict[str, Any], state: dict[str, Any] | None = None, *args: str
) -> TapRun:
    tmp_path.mkdir(parents=True, exist_ok=True)
    config_file = tmp_path / "tap-config.json"
    config_file.write_text(json.dumps(config))
    command = [TAP, "--config", str(config_file), *args]
    if state is not None:
        state_file = tmp_path / "tap-state.json"
        state_file.write_text(json.dumps(state))
        command += ["--state", str(state_file)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return TapRun(done.returncode, messages, done.stderr)


def sandbox_config(sandbox: Sandbox, **overrides: Any) -> dict[str, Any]:
    return {"district_token": sandbox.token, "api_url": sandbox.clever_api_url} | overrides


def batch_config(root: Path, *, compression: str = "none", batch_size: int = 1000) -> dict[str, Any]:
    return {
        "encoding": {"format": "jsonl", "compression": compression},
        "storage": {"root": root.as_uri(), "prefix": "test-"},
        "batch_size": batch_size,
    }
