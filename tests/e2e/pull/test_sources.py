"""The source is known: the pull names its source and district, the target picks that source's default
mapping, and refuses a mapping, a feed or a school community that another source or district fills."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bloomz_sync.cli import main
from tests.support.district import district, query, run_target, singer_lines

_REFUSED = "SELECT status, status_reason FROM runs ORDER BY id DESC LIMIT 1"


def test_without_a_mapping_the_pulled_source_s_default_is_used(database: Path, tmp_path: Path) -> None:
    result = run_target({"database": str(database)}, singer_lines(district(), source="oneroster"), tmp_path)

    assert result.returncode == 0, result.stderr
    assert query(database, "SELECT source, mapping_file LIKE '%oneroster.yml' FROM runs") == [
        ("oneroster", True)
    ]
    assert query(database, "SELECT key, source FROM communities ORDER BY key") == [
        ("oneroster:sch1", "oneroster"),
        ("oneroster:sch2", "oneroster"),
    ]


def test_a_mapping_of_another_source_is_refused_in_one_line(
    database: Path, tmp_path: Path, mapping_file
) -> None:
    clever = mapping_file("")  # extends clever

    result = run_target(
        {"database": str(database), "mapping": str(clever)},
        singer_lines(district(), source="oneroster"),
        tmp_path,
    )

    assert result.returncode == 1
    expected = (
        f"the mapping {clever} is for Clever, but this pull comes from OneRoster through tap-oneroster: set "
        "target-bloomz's mapping to a file that extends mappings/oneroster.yml (or unset mapping and source "
        "to use that default)"
    )
    assert f"refused, nothing applied: {expected}" in result.stderr
    assert "Traceback" not in result.stderr
    assert query(database, _REFUSED) == [("refused", expected)]
    assert query(database, "SELECT count(*) FROM people") == [(0,)]


def test_a_feed_or_a_community_of_another_district_is_refused(database: Path, tmp_path: Path) -> None:
    config = {"database": str(database), "feed": "lincoln"}
    assert run_target(config, singer_lines(district(), tenant="district-1"), tmp_path).returncode == 0
    before = query(database, "SELECT count(*), max(id) FROM people")
    other = district()
    other["students"][0]["first_name"] = "Someone Else"

    same_feed = run_target(config, singer_lines(other, tenant="district-2"), tmp_path)

    assert same_feed.returncode == 1
    assert query(database, _REFUSED) == [
        (
            "refused",
            "feed lincoln holds the roster of Clever (district district-1), but this pull comes from Clever "
            "(district district-2): give this tap configuration its own feed (target-bloomz setting feed)",
        )
    ]

    own_feed = run_target({**config, "feed": "other"}, singer_lines(other, tenant="district-2"), tmp_path)

    assert own_feed.returncode == 1
    assert query(database, _REFUSED) == [
        (
            "refused",
            "school community clever:sch1 is filled from Clever (district district-1), but this pull comes "
            "from Clever (district district-2): map the pulled schools to other communities, or move the "
            "school to this source first (docs/sources.md)",
        )
    ]
    assert query(database, "SELECT count(*), max(id) FROM people") == before
    assert query(database, "SELECT count(*) FROM people WHERE first_name = 'Someone Else'") == [(0,)]


def test_a_school_another_source_brought_gets_no_second_community(database: Path, tmp_path: Path) -> None:
    assert run_target({"database": str(database)}, singer_lines(district()), tmp_path).returncode == 0
    oneroster = district()
    for school in oneroster["schools"]:
        school["id"] = "or-" + school["id"]  # the same schools, under OneRoster's ids
    for section in oneroster["sections"]:
        section["school_id"] = "or-" + section["school_id"]

    result = run_target({"database": str(database)}, singer_lines(oneroster, source="oneroster"), tmp_path)

    assert result.returncode == 1
    (status, reason) = query(database, _REFUSED)[0]
    assert status == "refused"
    assert reason.startswith(
        "Lincoln Elementary (oneroster school or-sch1) is already in Bloomz as community clever:sch1, filled "
        "from Clever: refusing to create a second community for the same school. To move it to OneRoster, "
        "run `bloomz-sync move-school clever:sch1 --to oneroster:or-sch1`"
    )
    assert query(database, "SELECT key FROM communities ORDER BY key") == [("clever:sch1",), ("clever:sch2",)]

    # The documented way over: move both schools (named by key or by name, as every command names a
    # school), then the OneRoster import fills the same communities.
    before = query(database, "SELECT count(*) FROM people UNION ALL SELECT count(*) FROM classes")
    cli = CliRunner()
    for community, school_id in (("clever:sch1", "sch1"), ("jefferson middle", "sch2")):
        moved = cli.invoke(
            main,
            [
                "--database",
                str(database),
                "move-school",
                community,
                "--to",
                f"oneroster:or-{school_id}",
                "--match",
                "id",
            ],
        )
        assert moved.exit_code == 0, moved.output
    assert moved.output == (
        "clever:sch2 is now oneroster:or-sch2, filled from OneRoster: 2 people and 1 class took their "
        "OneRoster ids (id); 0 classes kept the Clever link. Import from OneRoster next (it updates them), "
        "and stop the school's Clever job.\n"
    )

    again = run_target({"database": str(database)}, singer_lines(oneroster, source="oneroster"), tmp_path)

    assert again.returncode == 0, again.stderr
    assert query(database, "SELECT key, source FROM communities ORDER BY key") == [
        ("oneroster:or-sch1", "oneroster"),
        ("oneroster:or-sch2", "oneroster"),
    ]
    assert query(database, "SELECT count(*) FROM people UNION ALL SELECT count(*) FROM classes") == before
    assert query(database, "SELECT scope FROM runs WHERE id = 1") == [
        (["oneroster:or-sch1", "oneroster:or-sch2"],)
    ]
