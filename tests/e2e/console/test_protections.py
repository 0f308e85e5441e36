"""What the console refuses: no login, no CSRF token, a foreign Host, an oversized body; what it never
sends back: a secret; how it shows what a file or a source says: escaped."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from tests.support.console import BIN, RunningConsole, login, signed_in


def test_every_page_needs_a_login(console_server: RunningConsole) -> None:
    for path in ("/", "/link/clever", "/districts/x", "/schools/x/y/manage/classes"):
        answer = requests.get(console_server.url + path, allow_redirects=False, timeout=10)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login"), path


def test_a_post_without_the_session_token_is_refused(console_server: RunningConsole) -> None:
    session, token = signed_in(console_server)
    answer = session.post(
        console_server.url + "/link/clever", data={"name": "X", "district_token": "t"}, timeout=10
    )
    assert answer.status_code == 403
    assert not (console_server.root / "districts" / "x").exists()
    forged = session.post(
        console_server.url + "/link/clever", data={"csrf": token[:-2] + "xx", "name": "X"}, timeout=10
    )
    assert forged.status_code == 403


def test_a_login_never_redirects_elsewhere(console_server: RunningConsole) -> None:
    for elsewhere in ("//evil.example/x", "https://evil.example/"):
        _, answer = login(console_server, then=elsewhere)
        assert answer.headers["location"] == "/"
    _, answer = login(console_server, then="/link/clever")
    assert answer.headers["location"] == "/link/clever"


def test_a_foreign_host_header_and_a_huge_body_are_refused(console_server: RunningConsole) -> None:
    assert (
        requests.get(console_server.url + "/login", headers={"Host": "evil.example"}, timeout=10).status_code
        == 400
    )
    session, token = signed_in(console_server)
    huge = session.post(
        console_server.url + "/link/csv",
        data={"csrf": token},
        files={"bundle": ("b.zip", b"0" * (7 * 2**20))},
        timeout=60,
    )
    assert huge.status_code == 413


def test_headers_keep_pages_private(console_server: RunningConsole) -> None:
    session, _ = signed_in(console_server)
    answer = session.get(console_server.url + "/", timeout=10)
    assert answer.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    cookie = requests.get(console_server.url + "/login", timeout=10).headers["set-cookie"].lower()
    assert cookie.startswith("bloomz_console=")
    assert "httponly" in cookie
    assert "samesite=strict" in cookie


def test_what_a_hand_edited_file_says_is_escaped(console_server: RunningConsole) -> None:
    folder = console_server.root / "districts" / "hand-made"
    folder.mkdir(parents=True)
    (folder / "meltano.yml").write_text("plugins:\n  extractors:\n  - name: '<script>alert(1)</script>'\n")
    session, _ = signed_in(console_server)
    page = session.get(console_server.url + "/", timeout=10).text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page or "no extractor inheriting" in page


# the console must refuse these
@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20"])  # noqa: S104
def test_it_listens_on_loopback_unless_told_otherwise(tmp_path: Path, host: str) -> None:
    (tmp_path / "meltano.yml").write_text("project_id: x\n")
    done = subprocess.run(
        [str(BIN / "bloomz-sync"), "console", "--project", str(tmp_path), "--host", host],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert f"--host {host} is not a loopback address" in done.stderr
    assert "--allow-remote" in done.stderr


def test_users_are_made_on_the_command_line_with_a_long_password(tmp_path: Path) -> None:
    (tmp_path / "meltano.yml").write_text("project_id: x\n")
    command = [
        str(BIN / "bloomz-sync"),
        "console",
        "add-user",
        "ana",
        "--password-stdin",
        "--project",
        str(tmp_path),
    ]
    short = subprocess.run(command, input="short\n", capture_output=True, text=True, timeout=60, check=False)
    assert short.returncode != 0
    assert "at least 12 characters" in short.stderr
    made = subprocess.run(
        command, input="a long enough password\n", capture_output=True, text=True, timeout=60, check=False
    )
    assert made.returncode == 0, made.stderr
    users = tmp_path / ".bloomz-console" / "users.json"
    assert users.stat().st_mode & 0o777 == 0o600
    assert "a long enough password" not in users.read_text()
    assert "$argon2id$" in users.read_text()
