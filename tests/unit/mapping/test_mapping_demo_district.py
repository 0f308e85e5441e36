"""Lincoln's sharing rules against the sections of Clever's real demo district."""

from __future__ import annotations

import json
from collections import Counter

from target_bloomz.mapping import load_mapping

from tests.support.project import REPO_ROOT

DEMO = REPO_ROOT.parent / "shared" / "reference" / "clever" / "demo-district"
LINCOLN = REPO_ROOT / "districts" / "lincoln-unified" / "mapping.yml"
# The dump has no schools file: Lincoln Middle reports grades 6-8; the mapping sets the elementary level.
SCHOOLS = {
    "5a25ff950a5f621109000004": {"id": "5a25ff950a5f621109000004", "high_grade": "12"},
    "5a25ff950a5f621109000005": {"id": "5a25ff950a5f621109000005", "high_grade": "9"},
    "5a25ff950a5f621109000006": {"id": "5a25ff950a5f621109000006", "low_grade": "6", "high_grade": "8"},
}


def standard_section(clever: dict) -> dict:
    """The fields of the standard `sections` stream the rules read, as the contract describes them."""
    return {
        "id": clever["id"],
        "school_id": clever["school"],
        "name": clever["name"],
        "subject": clever["subject"],
        "section_type": "homeroom" if clever["subject"] == "homeroom/advisory" else "scheduled",
        "grades": [clever["grade"]] if clever.get("grade") else [],
    }


def test_elementary_keeps_homerooms_and_specialists_middle_keeps_everything():
    mapping = load_mapping(LINCOLN)
    decisions: Counter[tuple[str, bool, str]] = Counter()
    for item in json.loads((DEMO / "sections.json").read_text())["data"]:
        section = standard_section(item["data"])
        school = SCHOOLS[section["school_id"]]
        if mapping.community_for(school) is None:
            continue
        selected, rule = mapping.section_rule(section, school)
        decisions[(section["school_id"][-2:], selected, rule)] += 1
    assert decisions == {
        ("05", True, "elementary homerooms"): 21,
        ("05", True, "elementary specialists"): 23,  # arts and music 21, PE and health 1, language 1
        ("05", False, "elementary subject sections"): 83,  # ELA 25, math 20, science 19, social studies 19
        ("06", True, "sections.default: include"): 86,  # every subject of the middle school
    }
