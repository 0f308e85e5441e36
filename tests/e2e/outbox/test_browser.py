"""The status e-mail and the report page, looked at in a real headless browser at phone size."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from target_bloomz.report.render import (
    FamilyCodeLetter,
    RunSummary,
    render_family_code_letters,
    render_report_page,
    render_status_email,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Outside CI a developer without chromium may skip; CI installs it (.ci/run): there a missing one fails.
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="chromium is not installed (Debian: apt-get install chromium)",
)
PHONE = "390,844"

SUMMARY: RunSummary = {
    "run_id": 42,
    "community": "Lincoln Elementary",
    "source": "clever",
    "status": "held",
    "started_at": "2026-11-23 02:00 UTC",
    "finished_at": "2026-11-23 02:03 UTC",
    "held_reason": "removals of students: 31 (12.9%) over the limit of 10%",
    "options": {
        "full_data": True,
        "archive": False,
        "keep_manual_staff": True,
        "invite_teachers": False,
        "invite_from": "Ms Rivera",
        "notify_to": ["School Admin"],
        "default_region": "US",
    },
    "counts": {
        "classes": {"added": 14, "updated": 2, "archived": 3},
        "students": {"added": 311, "removed": 31},
        "parents": {"added": 402},
        "staff": {"added": 23},
        "class_memberships": {"added": 5120, "removed": 77},
    },
    "issues": [
        {
            "severity": "error",
            "stream": "sections",
            "record": "58da8c6b894273be680001fc",
            "message": "class name Math 3 - Smith - 2 is taken by section 58da8c6b894273be68000200",
        },
        {
            "severity": "warning",
            "stream": "contacts",
            "record": "c-991",
            "message": "phone number is not valid",
        },
    ],
}

# Appended to a copy of the page: records whether anything sticks out sideways on a phone.
MEASURE = (
    "<script>document.body.setAttribute('data-overflow', "
    "String(document.documentElement.scrollWidth > window.innerWidth));</script>"
)


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--window-size={PHONE}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def png_size_and_colours(data: bytes) -> tuple[int, int, set[bytes]]:
    """Width, height and the distinct pixel values of an 8-bit RGB or RGBA PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert depth == 8, f"unexpected PNG bit depth {depth}"
    assert colour_type in (2, 6), f"unexpected PNG colour type {colour_type}"
    step = 3 if colour_type == 2 else 4
    stride = width * step
    raw = zlib.decompress(idat)
    previous = bytearray(stride)
    colours: set[bytes] = set()
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        filter_type, row = line[0], bytearray(line[1:])
        for x in range(stride):
            left = row[x - step] if x >= step else 0
            up = previous[x]
            corner = previous[x - step] if x >= step else 0
            if filter_type == 1:
                row[x] = (row[x] + left) & 0xFF
            elif filter_type == 2:
                row[x] = (row[x] + up) & 0xFF
            elif filter_type == 3:
                row[x] = (row[x] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                nearest = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                row[x] = (row[x] + nearest) & 0xFF
        colours.update(bytes(row[i : i + step]) for i in range(0, stride, step))
        previous = row
    return width, height, colours


@pytest.mark.parametrize("which", ["report page", "status e-mail"])
def test_it_reads_on_a_phone(which: str, tmp_path: Path) -> None:
    html = render_report_page(SUMMARY) if which == "report page" else render_status_email(SUMMARY).html
    page = tmp_path / "page.html"
    page.write_text(html, encoding="utf-8")
    shot = tmp_path / "page.png"

    result = chromium(tmp_path / "profile", f"--screenshot={shot}", page.as_uri())

    assert shot.exists(), result.stderr[-2000:]
    width, height, colours = png_size_and_colours(shot.read_bytes())
    assert (width, height) == (390, 844)
    assert len(colours) > 50, "a page of text in colour, not a blank screen"

    measured = tmp_path / "measured.html"
    measured.write_text(html.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = chromium(tmp_path / "profile", "--dump-dom", measured.as_uri()).stdout
    assert 'data-overflow="false"' in dom, "nothing is wider than the phone's screen"
    text = " ".join(dom.split())
    assert "Held for approval: nothing was changed" in text
    assert "removals of students: 31 (12.9%) over the limit of 10%" in text
    assert ">5120<" in text.replace(" ", "")
    assert ">311<" in text.replace(" ", "")
    assert "58da8c6b894273be680001fc" in text
    assert "Do not override staff assignments" in text


def test_family_code_letters_print_one_page_per_student(tmp_path: Path) -> None:
    letters: list[FamilyCodeLetter] = [
        {"student_name": f"Student {i}", "code": "K7RX-M4TW-9HJP"} for i in range(3)
    ]
    page = tmp_path / "letters.html"
    page.write_text(
        render_family_code_letters(
            letters, school="Lincoln Elementary", signup_url="https://bloomz.net/join"
        ),
        encoding="utf-8",
    )
    pdf = tmp_path / "letters.pdf"

    result = chromium(tmp_path / "profile", "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())

    assert pdf.exists(), result.stderr[-2000:]
    assert b"/Count 3" in pdf.read_bytes(), "three students, three printed pages"
