"""The declarative files are the truth: a district written by hand shows in the console, a broken mapping
file shows its errors next to the fields, and a OneRoster CSV bundle links by upload."""

from __future__ import annotations

import html
import re
import subprocess
import textwrap
import time
from pathlib import Path

from bloomz_console.project import KINDS, Project

from tests.support.console import BIN, RunningConsole, csrf_of, signed_in
from tests.support.district import district, query, run_target, singer_lines

HAND_MADE = """\
# Written by hand, not by the console.
plugins:
  extractors:
  - name: tap-clever-handmade
    inherit_from: tap-clever
  - name: tap-clever-handmade-north
    inherit_from: tap-clever-handmade
    config:
      schools: [5a25ff950a5f621109000004]
  loaders:
  - name: target-bloomz-handmade
    inherit_from: target-bloomz
    config:
      mapping: districts/handmade/mapping.yml
  - name: target-bloomz-handmade-north
    inherit_from: target-bloomz-handmade
    config:
      notify_to: [School Office Staff]
schedules:
- name: nightly-handmade-north
  interval: "0 3 * * *"
  job: nightly-handmade-north
"""


# Two schools of one campus in one Bloomz community: the mapping's group, written by hand.
CAMPUS_MAPPING = """\
extends: clever
communities:
  groups:
  - {key: "campus:k8", name: K-8 Campus, schools: [sch1, sch2]}
"""


def _district(
    console: RunningConsole, mapping: str, name: str = "handmade", include: str = HAND_MADE
) -> Path:
    folder = console.root / "districts" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meltano.yml").write_text(include)
    (folder / "mapping.yml").write_text(textwrap.dedent(mapping))
    return folder


def test_a_district_written_by_hand_shows_as_it_is_written(console_server: RunningConsole) -> None:
    _district(console_server, "extends: clever\nstudents:\n  id_field: state_id   # our autonotices\n")
    session, _ = signed_in(console_server)
    page = session.get(console_server.url + "/schools/handmade/north", timeout=30).text
    assert re.search(r'value="state_id" id="id-state_id"\s+checked', page), "the file's Student ID field"
    assert re.search(r'value="School Office Staff"\s+checked', page), "the school loader's notify_to"
    assert re.search(r'name="scheduled"\s+checked', page), "its schedule exists: the toggle is on"
    home = session.get(console_server.url + "/", timeout=30).text
    assert "handmade" in home
    assert "north" in home


def test_a_school_of_a_group_community_shows_its_last_import_on_the_home_page(
    console_server: RunningConsole, tmp_path: Path
) -> None:
    project = Project(root=console_server.root, database=console_server.database)
    campus = project.create_district("Campus", KINDS["clever"], {})
    for school_id, name in (("sch1", "Lincoln"), ("sch2", "Jefferson")):
        project.add_school(campus, school_id, name)
    campus.mapping_file.write_text(CAMPUS_MAPPING)
    config = {"database": str(console_server.database), "mapping": str(campus.mapping_file)}
    imported = run_target(config, singer_lines(district()), tmp_path)
    assert imported.returncode == 0, imported.stderr[-2000:]
    ((run,),) = query(
        console_server.database, "SELECT max(id) FROM runs WHERE list_contains(scope, 'campus:k8')"
    )
    session, _ = signed_in(console_server)

    home = session.get(console_server.url + "/", timeout=30).text
    own = session.get(console_server.url + "/schools/campus/lincoln/status", timeout=30)

    for school in ("lincoln", "jefferson"):
        row = re.search(rf'<tr>\s*<td><a href="/schools/campus/{school}">.*?</tr>', home, re.S)
        assert row, home
        assert re.search(rf">Completed</span> run {run}\b", row[0]), row[0]
    assert own.url.endswith(f"/schools/campus/lincoln/runs/{run}"), "its own Last Import Status: the same run"


def test_a_broken_mapping_file_shows_its_errors_next_to_the_fields(console_server: RunningConsole) -> None:
    _district(console_server, "extends: clever\nstudents:\n  id_field: sis\ncontacts:\n  field: kind\n")
    session, _ = signed_in(console_server)
    page = html.unescape(session.get(console_server.url + "/schools/handmade/north", timeout=30).text)
    id_section = page[page.index("<h3>Student ID field</h3>") : page.index("<h3>Contact field</h3>")]
    assert (
        "line 3: students.id_field: 'sis' is not allowed; allowed values: sis_id, student_number, state_id"
        in id_section
    )
    contact_section = page[
        page.index("<h3>Contact field</h3>") : page.index("<h3>Sections that become classes</h3>")
    ]
    assert "line 5: contacts.field: 'kind' is not allowed" in contact_section


def test_saving_keeps_the_files_comments_and_hand_written_rules(console_server: RunningConsole) -> None:
    folder = _district(
        console_server,
        """\
        extends: clever
        # Lincoln's sharing rule, agreed with the district office.
        sections:
          rules:
            - name: no study halls
              action: exclude
              when: {name: ["Study Hall*"]}
        """,
    )
    session, token = signed_in(console_server)
    page = session.get(console_server.url + "/schools/handmade/north", timeout=30).text
    token = csrf_of(page)
    answer = session.post(
        console_server.url + "/schools/handmade/north/options",
        data={
            "csrf": token,
            "action": "save",
            "id_field": "student_number",
            "contact_field": "relationship",
            "include_relationship": ["Parent"],
            "class_name": "{{ section.name }}",
            "keep_manual_staff": "on",
            "leave_out_subject": ["math"],
        },
        timeout=30,
    )
    assert answer.status_code == 200
    assert "Options saved" in answer.text
    text = (folder / "mapping.yml").read_text()
    assert "# Lincoln's sharing rule, agreed with the district office." in text
    assert text.index("no study halls") < text.index("console: north leaves out subjects"), "hand rules first"
    assert "id_field: student_number" in text
    assert "- Parent" in text


def test_a_oneroster_csv_bundle_links_by_upload(
    console_server: RunningConsole, demo_district_dir: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle.zip"
    subprocess.run(
        [
            str(BIN / "roster-sandbox"),
            "export-csv",
            str(demo_district_dir),
            "--version",
            "1.1",
            "--out",
            str(bundle),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    session, _ = signed_in(console_server)
    page = session.get(console_server.url + "/link/csv", timeout=30).text
    token = csrf_of(page)
    answer = session.post(
        console_server.url + "/link/csv",
        data={"csrf": token, "name": "Bundle District"},
        files={"bundle": ("district.zip", bundle.read_bytes())},
        timeout=120,
    )
    assert "Saved and connected." in answer.text, answer.text[-3000:]
    saved = console_server.root / "data" / "bundles" / "bundle-district.zip"
    assert saved.stat().st_mode & 0o777 == 0o600
    assert saved.parent.stat().st_mode & 0o777 == 0o700
    assert (
        "csv_path: " + str(saved)
        in (console_server.root / "districts/bundle-district/meltano.yml").read_text()
    )
    deadline = time.monotonic() + 120
    while "counting…" in answer.text and time.monotonic() < deadline:
        time.sleep(1)
        answer = session.get(console_server.url + "/districts/bundle-district", timeout=30)
    assert "5a25ff950a5f621109000006" in answer.text
    assert ">268<" in answer.text.replace(" ", "")
