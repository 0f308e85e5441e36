"""The admin CLI names a school and a person the same way in every command (target_bloomz.lookup):
a school by key, name or source school id; a person by store id, source id (or <source>:<id>) or e-mail;
and when a name fits several, the message lists them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.district import district, query, run_target, singer_lines
from tests.support.mappings import OPEN_LIMITS


@pytest.fixture
def imported(database: Path, tmp_path: Path, mapping_file: Callable[[str], Path]) -> Path:
    """The two-school district imported once from Clever (run 1)."""
    config = {"database": str(database), "mapping": str(mapping_file(OPEN_LIMITS))}
    result = run_target(config, singer_lines(district()), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return database


def _person(database: Path, source_id: str) -> int:
    return query(database, "SELECT person_id FROM person_sources WHERE source_id = ?", [source_id])[0][0]


def _role(database: Path, community: str, person: int) -> str:
    return query(
        database,
        "SELECT m.role FROM community_members m JOIN communities c ON c.id = m.community_id "
        "WHERE c.key = ? AND m.person_id = ?",
        [community, person],
    )[0][0]


@pytest.mark.parametrize("school", ["clever:sch1", "Lincoln Elementary", "lincoln elementary", "sch1"])
def test_set_role_takes_a_school_by_key_name_or_source_id(imported, cli, school):
    done = cli("set-role", school, "adm1", "School Admin")
    assert done.exit_code == 0, done.output
    assert _role(imported, "clever:sch1", _person(imported, "adm1")) == "School Admin"


def test_a_person_is_named_by_store_id_source_id_source_and_id_or_e_mail(imported, cli):
    teacher = _person(imported, "tea1")
    (email,) = query(imported, "SELECT email FROM people WHERE id = ?", [teacher])[0]
    assert email
    for ref in (str(teacher), "tea1", "clever:tea1", email.upper()):
        done = cli("explain", ref)
        assert done.exit_code == 0, done.output
        assert done.output.startswith(f"Person #{teacher} (staff)"), ref


def test_the_report_of_a_run_over_several_schools_has_a_section_per_school(imported, cli, tmp_path):
    page = tmp_path / "report.html"
    done = cli("report", "1", "--html", str(page))
    assert done.exit_code == 0, done.output
    html = page.read_text()
    assert "Lincoln Elementary" in html
    assert "Jefferson Middle" in html
    one = tmp_path / "one.html"
    assert cli("report", "1", "--school", "Jefferson Middle", "--html", str(one)).exit_code == 0
    assert "Jefferson Middle" in one.read_text()
    assert "Lincoln Elementary" not in one.read_text()


def test_a_name_that_fits_several_lists_them(imported, cli, tmp_path):
    # The same schools imported a second time from OneRoster (same ids): each staff member is now two
    # people, one per source, both known by the same source id. The mapping places the schools in
    # communities of their own by hand: without that, a school another source brought is refused.
    oneroster = tmp_path / "oneroster.yml"
    oneroster.write_text(
        "extends: oneroster\ncommunities:\n  groups:\n"
        "  - {key: 'oneroster:sch1', name: Lincoln Elementary, schools: [sch1]}\n"
        "  - {key: 'oneroster:sch2', name: Jefferson Middle, schools: [sch2]}\n" + OPEN_LIMITS
    )
    config = {"database": str(imported), "mapping": str(oneroster)}
    second = run_target(config, singer_lines(district(), source="oneroster"), tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    clever, other = (
        query(imported, "SELECT person_id FROM person_sources WHERE source = ? AND source_id = 'tea1'", [s])[
            0
        ][0]
        for s in ("clever", "oneroster")
    )

    ambiguous = cli("register", "tea1")
    assert ambiguous.exit_code == 1
    assert (
        f'"tea1" names 2 people: person {clever} (staff, clever:tea1 in Lincoln Elementary)'
        in ambiguous.output
    )
    assert f"person {other} (staff, oneroster:tea1" in ambiguous.output
    assert "Give the person id, or the source id as <source>:<id>" in ambiguous.output
    assert "Ann" not in ambiguous.output  # ids and schools, no personal data

    school = cli("family-codes", "--school", "Lincoln Elementary")
    assert school.exit_code == 1
    assert (
        '"Lincoln Elementary" names 2 school communities: clever:sch1 "Lincoln Elementary"; oneroster:sch1'
        in (school.output)
    )

    assert cli("explain", "oneroster:tea1").output.startswith(f"Person #{other} (staff)")


def test_a_name_that_fits_nothing_says_what_to_give(imported, cli):
    person = cli("register", "nobody@example.org")
    assert person.exit_code == 1
    assert (
        'no person "nobody@example.org" in the store: give a person id, a source id, or an e-mail'
        in person.output
    )
    school = cli("set-role", "Nowhere High", "adm1", "School Admin")
    assert school.exit_code == 1
    assert 'no school community "Nowhere High" in the store' in school.output
