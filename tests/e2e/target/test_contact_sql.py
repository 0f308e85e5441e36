"""The SQL fast path of the e-mail and phone checks gives Python's answer or none (Python then decides).

Property tests: for generated values of each shape the fast path takes, and for near misses of them, every
answer the SQL gives is exactly contact_info's (same value, same warning); North American numbers of the
common shapes, valid or not, are all answered in SQL when the district is in the North American plan.
District tests: over every e-mail and phone of a real and a generated district, the map step (fast path,
then Python) gives exactly the answers Python alone gives.
"""

from __future__ import annotations

import json
import logging
import re
import string
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import email_validator
import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from target_bloomz.contacts import normalize, sql_rules
from target_bloomz.contacts.rules import Normalized, normalize_email, normalize_phone

NANP_REGIONS = phonenumbers.region_codes_for_country_code(1)
SPECIAL_USE = email_validator.SPECIAL_USE_DOMAIN_NAMES

property_test = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


SQL = duckdb.connect()  # one in-memory database for the whole module: the examples only run queries


def fast_answers(expression: str, values: Iterable[str]) -> dict[str, str | None]:
    """The SQL fast path's answer (None: left to Python) for each value."""
    sql = f"SELECT raw, {expression} FROM unnest($values::VARCHAR[]) t(raw)"
    return dict(SQL.execute(sql, {"values": list(values)}).fetchall())


def fast_checks(expression: str, values: Iterable[str]) -> dict[str, Normalized | None]:
    """The SQL fast path's answer for each value, from a check's struct (None: left to Python)."""
    checks = fast_answers(expression, values)
    return {
        raw: Normalized(check["value"], check["warning"]) if check["answered"] else None  # type: ignore[index]
        for raw, check in checks.items()
    }


def assert_only_python_answers(answers: dict[str, Normalized | None], python: dict[str, Normalized]) -> None:
    for raw, answer in answers.items():
        if answer is not None:
            assert python[raw] == answer, f"fast path answered {raw!r} with {answer!r}"


# E-mail addresses ------------------------------------------------------------------------------------

ATOM = st.text(string.ascii_letters + string.digits + "_+-", min_size=1, max_size=12)
LABEL = st.from_regex(r"[A-Za-z0-9]{1,10}(-[A-Za-z0-9]{1,8}){0,2}", fullmatch=True)
TLD = st.text(string.ascii_letters, min_size=2, max_size=12)


@st.composite
def plain_emails(draw: st.DrawFn) -> str:
    local = ".".join(draw(st.lists(ATOM, min_size=1, max_size=4)))
    labels = draw(st.lists(LABEL, min_size=1, max_size=3))
    tld = draw(TLD)
    assume(tld.lower() not in SPECIAL_USE)
    return f"{local}@{'.'.join([*labels, tld])}"


TRICKY = [
    " ", "\t", "\n", "\u00a0", "\u200b", "\u0301", ".", "..", "-", "--", "_", "@", "@@", '"', "<", ">",
    "(", ")", ",", ";", ":", "[", "]", "\\", "!", "#", "$", "%", "&", "'", "*", "/", "=", "?", "^", "`",
    "{", "|", "}", "~", "é", "É", "ß", "\uff41", "\uff20", "\uff0e", "\u3002", "\u0131", "K", "xn--",
    "xn--bcher-kva", "1", "0",
]  # fmt: skip


@st.composite
def near_miss_emails(draw: st.DrawFn) -> str:
    raw = draw(plain_emails())
    local, _, domain = raw.partition("@")
    mutation = draw(st.integers(0, 7))
    if mutation == 0:  # a tricky character anywhere
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from(TRICKY)) + raw[at:]
    elif mutation == 1:  # a special-use name as the TLD, or as another label (still an ordinary domain)
        name = draw(st.sampled_from(SPECIAL_USE))
        name = "".join(draw(st.sampled_from([c.lower(), c.upper()])) for c in name)
        raw = draw(st.sampled_from([f"{raw}.{name}", f"{local}@{name}", f"{local}@{name}.{domain}"]))
    elif mutation == 2:  # a label at and past the DNS limit
        label = "a" * draw(st.integers(60, 66))
        raw = draw(st.sampled_from([f"{local}@{label}.{domain}", f"{local}@{domain[:1]}.{label}"]))
    elif mutation == 3:  # a local part at and past 64, an address at and past 254
        raw = draw(
            st.sampled_from(
                [
                    "x" * draw(st.integers(62, 66)) + "@" + domain,
                    local + "@" + ("b" * 60 + ".") * 4 + "c" * draw(st.integers(0, 12)) + "a.com",
                ]
            )
        )
    elif mutation == 4:  # whitespace around
        raw = draw(st.sampled_from([" ", "\t", "\n", "\u3000"])) + raw + draw(st.sampled_from(["", " "]))
    elif mutation == 5:  # dots: leading, trailing, doubled, none in the domain
        raw = draw(
            st.sampled_from(
                [
                    f".{raw}",
                    f"{local}.@{domain}",
                    f"{raw}.",
                    raw.replace(".", ".."),
                    f"{local}@{domain.replace('.', '')}",
                ]
            )
        )
    elif mutation == 6:  # hyphens at the edges of labels, digits in the TLD
        raw = draw(
            st.sampled_from([f"{local}@-{domain}", f"{local}@{domain}-", raw.replace(".", ".-"), f"{raw}1"])
        )
    else:  # case
        raw = draw(st.sampled_from([raw.upper(), raw.lower(), raw.swapcase()]))
    return raw


@property_test
@given(st.lists(plain_emails(), min_size=1, max_size=20))
def test_plain_addresses_are_answered_in_sql_as_python_answers_them(raws: list[str]) -> None:
    answers = fast_answers(sql_rules.email_answer("raw"), raws)
    checks = fast_checks(sql_rules.email_check("raw"), raws)
    for raw in raws:
        assert normalize_email(raw) == Normalized(answers[raw]) == checks[raw]


@property_test
@given(st.lists(near_miss_emails(), min_size=1, max_size=20))
def test_near_misses_get_no_answer_python_would_not_give(raws: list[str]) -> None:
    answers = fast_checks(sql_rules.email_check("raw"), raws)
    assert_only_python_answers(answers, {raw: normalize_email(raw) for raw in raws})


@property_test
@given(st.lists(st.text(string.printable + "é\uff20\uff0e\u0301", max_size=40), min_size=1, max_size=20))
def test_any_text_gets_no_answer_python_would_not_give(raws: list[str]) -> None:
    answers = fast_checks(sql_rules.email_check("raw"), raws)
    assert_only_python_answers(answers, {raw: normalize_email(raw) for raw in raws})


def test_special_use_domains_and_long_labels_are_left_to_python() -> None:
    raws = [
        "ann@school.local",
        "ann@Mail.TEST",
        "ann@x.onion",
        "ann@" + "a" * 64 + ".com",
        " ann@example.org",
    ]
    assert set(fast_answers(sql_rules.email_answer("raw"), raws).values()) == {None}
    assert fast_answers(sql_rules.email_answer("raw"), ["Ann@Local.Example.org"]) == {
        "Ann@Local.Example.org": "ann@local.example.org"
    }


# Phone numbers ---------------------------------------------------------------------------------------

PREFIXES = ["", "1", "1-", "1 ", "+1", "+1 ", "+1-"]
BODIES = ["({a}) {e}-{n}", "{a}-{e}-{n}", "{a}.{e}.{n}", "{a}{e}{n}"]
AREA = st.one_of(
    st.from_regex(r"[2-9][0-9]{2}", fullmatch=True),
    st.sampled_from(["212", "312", "773", "416", "604", "905", "867", "555", "800", "900", "500", "522"]),
)
EXCHANGE = st.one_of(st.from_regex(r"[2-9][0-9]{2}", fullmatch=True), st.just("555"))
LINE = st.one_of(st.from_regex(r"[0-9]{4}", fullmatch=True), st.from_regex(r"01[0-9]{2}", fullmatch=True))


def us_valid(national: str) -> bool:
    return phonenumbers.is_valid_number_for_region(phonenumbers.parse("+1" + national), "US")


@st.composite
def plain_phones(draw: st.DrawFn) -> tuple[str, str]:
    """(raw, national number)."""
    area, exchange, line = draw(AREA), draw(EXCHANGE), draw(LINE)
    body = draw(st.sampled_from(BODIES)).format(a=area, e=exchange, n=line)
    return draw(st.sampled_from(PREFIXES)) + body, area + exchange + line


@st.composite
def near_miss_phones(draw: st.DrawFn) -> str:
    raw, national = draw(plain_phones())
    mutation = draw(st.integers(0, 6))
    if mutation == 0:  # another prefix
        prefix = draw(
            st.sampled_from(["0", "01", "011 ", "+", "++1 ", "+44 ", "+1 1", "11", "2", "+01 ", "1+"])
        )
        raw = prefix + national
    elif mutation == 1:  # an area code or exchange starting with 0 or 1
        digits = draw(st.from_regex(r"[01][0-9]{2}", fullmatch=True))
        at = draw(st.sampled_from([0, 3]))
        raw = draw(st.sampled_from(PREFIXES)) + national[:at] + digits + national[at + 3 :]
    elif mutation == 2:  # an extension
        raw += draw(st.sampled_from([" x123", "x123", " ext. 12", "#12", ";ext=1", ",123", " X 5"]))
    elif mutation == 3:  # letters
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from(["A", "FLOWERS", "x", "O", "l"])) + raw[at:]
    elif mutation == 4:  # whitespace, unicode digits, other dashes
        raw = draw(
            st.sampled_from(
                [
                    f" {raw}",
                    f"{raw} ",
                    raw.replace("3", "\uff13"),
                    raw.replace("-", "\u2013"),
                    raw.replace(" ", "\u00a0"),
                    raw.replace("-", " "),
                ]
            )
        )
    elif mutation == 5:  # one digit more or less
        raw = draw(st.sampled_from([raw + "5", raw[:-1], "1" + raw]))
    else:  # separators in other places
        raw = draw(
            st.sampled_from(
                [
                    f"({national[:3]}){national[3:6]}-{national[6:]}",
                    f"{national[:3]}-{national[3:6]}.{national[6:]}",
                    f"({national[:3]} {national[3:6]}-{national[6:]}",
                    f"{national[:3]}--{national[3:6]}-{national[6:]}",
                    f"{national[:3]}/{national[3:6]}-{national[6:]}",
                    f"{national[:6]}-{national[6:]}",
                ]
            )
        )
    return raw


OTHER_REGIONS = ["GB", "MX", "DE", "IN"]

# Ten digits of any kind (most are no number at all), now and then starting as a North American region's
# numbers do (leading digits in phonenumbers' metadata), as an international call ("011"), or with 0 or 1
# (after a "1", a "1" is stripped too: "1" "1242..." is read as a Bahamas number "242...").
LEADS = [
    "011", "0110", "0", "1", "11", "268", "264", "684", "246", "441", "242", "767", "8001", "809", "829",
    "849", "473", "671", "658", "876", "869", "345", "758", "670", "664", "787", "939", "721", "649", "868",
    "784", "284", "340", "555", "800", "900", "52", "600", "310", "212", "604", "1242", "1268", "1787",
]  # fmt: skip
TEN_DIGITS = st.one_of(
    st.from_regex(r"[0-9]{10}", fullmatch=True),
    st.tuples(st.sampled_from(LEADS), st.from_regex(r"[0-9]{10}", fullmatch=True)).map(
        lambda parts: (parts[0] + parts[1])[:10]
    ),
)


@st.composite
def any_digit_phones(draw: st.DrawFn) -> str:
    national = draw(TEN_DIGITS)
    body = draw(st.sampled_from(BODIES)).format(a=national[:3], e=national[3:6], n=national[6:])
    return draw(st.sampled_from(PREFIXES)) + body


def dialled_abroad(raw: str) -> bool:
    """Ten digits starting with the international prefix "011" and a country code: another country's
    number, which the fast path leaves to Python."""
    digits = re.sub("[^0-9]", "", raw)
    return len(digits) == 10 and re.match("011[1-9]", digits) is not None


@property_test
@given(st.lists(plain_phones(), min_size=1, max_size=20), st.sampled_from(NANP_REGIONS))
def test_plain_numbers_are_answered_in_sql_as_python_answers_them(
    phones: list[tuple[str, str]], region: str
) -> None:
    answers = fast_checks(sql_rules.phone_check("raw", region), [raw for raw, _ in phones])
    for raw, national in phones:
        assert answers[raw] == normalize_phone(raw, region)
        if us_valid(national):
            assert answers[raw] == Normalized("+1" + national)


@property_test
@given(
    st.lists(any_digit_phones(), min_size=1, max_size=20), st.sampled_from([*NANP_REGIONS, *OTHER_REGIONS])
)
def test_numbers_of_any_digits_get_pythons_answer_in_sql_in_north_america(
    raws: list[str], region: str
) -> None:
    answers = fast_checks(sql_rules.phone_check("raw", region), raws)
    for raw in raws:
        if region in OTHER_REGIONS or dialled_abroad(raw):
            assert answers[raw] is None, f"fast path answered {raw!r}"
        else:
            assert answers[raw] == normalize_phone(raw, region), raw


@property_test
@given(
    st.lists(near_miss_phones(), min_size=1, max_size=20), st.sampled_from([*NANP_REGIONS, *OTHER_REGIONS])
)
def test_near_miss_numbers_get_no_answer_python_would_not_give(raws: list[str], region: str) -> None:
    answers = fast_checks(sql_rules.phone_check("raw", region), raws)
    assert_only_python_answers(answers, {raw: normalize_phone(raw, region) for raw in raws})


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(312) 555-0142", "US", Normalized("+13125550142")),
        ("268-464-1234", "US", Normalized("+12684641234")),  # Antigua's leading digits: valid there
        ("1-268-000-0000", "CA", Normalized(None, "phone number is not valid: no such number in AG")),
        ("555.555.5555", "CA", Normalized(None, "phone number is not valid: no such number in CA")),
        ("+1 212-000-0000", "PR", Normalized(None, "phone number is not valid: no such number in PR")),
        # "1" then ten digits starting with "1": phonenumbers strips both, nine digits are left.
        ("1-123-456-7890", "US", Normalized(None, "phone number is not valid: no such number in US")),
        ("1-124-255-5555", "US", Normalized(None, "phone number is not valid: no such number in BS")),
    ],
)
def test_invalid_north_american_numbers_get_pythons_warning_in_sql(
    raw: str, region: str, expected: Normalized
) -> None:
    assert normalize_phone(raw, region) == expected
    assert fast_checks(sql_rules.phone_check("raw", region), [raw]) == {raw: expected}


def phonenumbers_answer(raw: str, region: str) -> Normalized:
    """What phonenumbers' own parse and is_valid_number say, as normalize_phone words it."""
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException:
        return Normalized(None, "phone number is not valid: it could not be read as a phone number")
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number) or region
        return Normalized(None, f"phone number is not valid: no such number in {where}")
    return Normalized(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


@property_test
@given(
    st.lists(
        st.one_of(near_miss_phones(), plain_phones().map(lambda phone: phone[0])), min_size=1, max_size=20
    ),
    st.sampled_from([*NANP_REGIONS, "GB", "MX", "DE", "IN"]),
)
def test_python_accepts_exactly_what_phonenumbers_is_valid_number_accepts(
    raws: list[str], region: str
) -> None:
    for raw in raws:
        assert normalize_phone(raw, region) == phonenumbers_answer(raw, region)


def test_numbers_outside_north_america_and_dialled_abroad_are_left_to_python() -> None:
    answers = fast_checks(sql_rules.phone_check("raw", "GB"), ["(312) 555-0142", "+1 312 555 0142"])
    assert set(answers.values()) == {None}
    assert fast_checks(sql_rules.phone_check("raw", "US"), ["011-441-2345"]) == {"011-441-2345": None}


def test_a_pattern_duckdb_cannot_compile_is_noticed() -> None:
    """Should phonenumbers' metadata ever use a pattern RE2 lacks (a look-ahead), the fast path stands
    down rather than fail the run."""
    assert sql_rules._compiles(["[2-9][0-9]{9}", "^(?:268)"])
    assert not sql_rules._compiles(["[2-9][0-9]{9}", "(?=2)[0-9]{10}"])


def test_the_patterns_are_phonenumbers_own() -> None:
    """The fast path is built from phonenumbers' metadata of every North American region (so it follows
    its updates): each region's leading digits, general and type patterns."""
    expression = sql_rules.phone_check("raw", "US")
    for region in NANP_REGIONS:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        assert metadata is not None
        if metadata.leading_digits is not None:
            assert f"'^(?:{metadata.leading_digits})'" in expression
        for desc in (
            metadata.general_desc,
            metadata.fixed_line,
            metadata.toll_free,
            metadata.personal_number,
        ):
            assert desc is not None
            assert desc.national_number_pattern
            assert desc.national_number_pattern in expression


# Whole districts -------------------------------------------------------------------------------------


def contact_values(node: Any, found: dict[str, set[str]]) -> dict[str, set[str]]:
    """Every string under an "email" or "phone" key, anywhere in a Clever dump."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in found and isinstance(value, str):
                found[key].add(value)
            else:
                contact_values(value, found)
    elif isinstance(node, list):
        for item in node:
            contact_values(item, found)
    return found


def assert_map_step_answers_as_python(users_json: Path, caplog: pytest.LogCaptureFixture) -> None:
    values = contact_values(json.loads(users_json.read_text()), {"email": set(), "phone": set()})
    with duckdb.connect() as con:
        con.execute("CREATE TEMP TABLE stg_students (email VARCHAR, phone VARCHAR)")
        con.execute("CREATE TEMP TABLE stg_staff (email VARCHAR, phone VARCHAR)")
        con.execute(
            "CREATE TEMP TABLE stg_contacts AS "
            "SELECT unnest($emails::VARCHAR[]) AS email, NULL::VARCHAR AS phone "
            "UNION ALL SELECT NULL, unnest($phones::VARCHAR[])",
            {"emails": sorted(values["email"]), "phones": sorted(values["phone"])},
        )
        with caplog.at_level(logging.INFO, logger="target_bloomz.contacts.normalize"):
            normalize.normalize_contacts(con, "US")
        emails = {raw: Normalized(v, w) for raw, v, w in con.execute("FROM norm_email").fetchall()}
        phones = {raw: Normalized(v, w) for raw, v, w in con.execute("FROM norm_phone").fetchall()}

    assert emails == {raw: normalize_email(raw) for raw in values["email"]}
    assert phones == {raw: normalize_phone(raw, "US") for raw in values["phone"]}
    [message] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("contact checks:")]
    by_sql_emails, by_sql_phones, in_python = map(int, re.findall(r"\d+", message))
    assert by_sql_emails > 0
    assert by_sql_phones > 0
    assert by_sql_emails + by_sql_phones + in_python == len(values["email"]) + len(values["phone"])


def test_the_demo_district_gets_pythons_answers(demo_district_dir: Path, caplog) -> None:
    assert_map_step_answers_as_python(demo_district_dir / "users.json", caplog)


def test_a_generated_district_gets_pythons_answers(tmp_path: Path, caplog) -> None:
    sandbox = Path(sys.executable).parent / "roster-sandbox"
    generate = [str(sandbox), "generate", "small", "--seed", "1", "--out", str(tmp_path)]
    subprocess.run(generate, check=True, capture_output=True)
    assert_map_step_answers_as_python(tmp_path / "users.json", caplog)
