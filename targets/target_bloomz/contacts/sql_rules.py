"""The SQL fast path of the e-mail and phone checks: the common, unambiguous shapes, answered in DuckDB.

``contact_info`` (email-validator, phonenumbers) stays the authority: these SQL expressions answer only
values whose answer is certain from the value's shape and phonenumbers' metadata (an e-mail address of the
plain shape; a North American number of the common shapes, valid or not) and leave everything else
unanswered, which then goes through Python as before. tests/e2e/target/test_contact_sql.py checks that
every answer given here is Python's answer.
"""

from __future__ import annotations

import functools
import re

import duckdb
import email_validator
import phonenumbers
from email_validator import rfc_constants

# A plain ASCII address: dot-atom local part of letters, digits, "_", "+" and "-"; domain labels of letters
# and digits with inner single hyphens (so no "--": no Punycode, no R-LDH label); an all-letters TLD.
# email-validator returns such an address unchanged but for its domain in lower case.
_LABEL = "[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*"
_EMAIL = rf"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# The fast path answers each value with a struct (answered, value, warning); not answered: Python decides.
_NO_ANSWER = "{'answered': false, 'value': NULL::VARCHAR, 'warning': NULL::VARCHAR}"


def _let(name: str, value: str, body: str) -> str:
    """SQL: ``body`` with ``name`` bound to ``value`` (a one-element list_transform), so that ``value`` is
    computed once, not at every use."""
    return f"list_transform([{value}], lambda {name}: {body})[1]"


def _special_use_domain() -> str:
    """email-validator's special-use names ("local", "test", ...), as a pattern over a lower-case domain."""
    names = "|".join(re.escape(name) for name in email_validator.SPECIAL_USE_DOMAIN_NAMES)
    return rf"(?:.*\.)?(?:{names})"


def email_answer(raw: str) -> str:
    """SQL: the normalised address for a ``raw`` of the plain shape, else NULL (Python decides).

    Within email-validator's limits (254 characters, 63 per domain label; it limits the local part to 64
    only when strict, so that limit here only sends more to Python), and not a special-use domain.
    """
    domain = f"lower(split_part({raw}, '@', 2))"
    return (
        f"CASE WHEN regexp_full_match({raw}, {_literal(_EMAIL)}) "
        f"AND length({raw}) <= {rfc_constants.EMAIL_MAX_LENGTH} "
        f"AND length(split_part({raw}, '@', 1)) <= {rfc_constants.LOCAL_PART_MAX_LENGTH} "
        f"AND NOT regexp_matches({domain}, '[^.]{{{rfc_constants.DNS_LABEL_LENGTH_LIMIT + 1}}}') "
        f"AND NOT regexp_full_match({domain}, {_literal(_special_use_domain())}) "
        f"THEN lower({raw}) END"
    )


def email_check(raw: str) -> str:
    """SQL: the fast path's answer for an address, a struct (answered, value, warning): the normalised
    address, no warning, for the plain shape (``email_answer``); else not answered (Python decides)."""
    return _let(
        "email",
        email_answer(raw),
        "{'answered': email IS NOT NULL, 'value': email, 'warning': NULL::VARCHAR}",
    )


# A North American number as people write it: an optional "1" or "+1", then "(312) 555-1234",
# "312-555-1234", "312.555.1234" or "3125551234".
_NANP_PREFIX = r"(?:\+1[ -]?|1[ -]?)?"
_NANP_BODY = (
    r"\([0-9]{3}\) [0-9]{3}-[0-9]{4}|[0-9]{3}-[0-9]{3}-[0-9]{4}|[0-9]{3}\.[0-9]{3}\.[0-9]{4}|[0-9]{10}"
)
_NANP_SHAPE = f"{_NANP_PREFIX}(?:{_NANP_BODY})"
_NANP_CODE = 1

# The number types phonenumberutil._number_type_helper tries; it tries "mobile" too unless the metadata
# says its pattern is fixed_line's (same_mobile_and_fixed_line_pattern).
_NUMBER_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)


def _matches_desc(nsn: str, desc: phonenumbers.PhoneNumberDesc | None) -> str:
    """SQL: phonenumbers' _is_number_matching_desc: the number has one of the description's possible
    lengths (when it lists some) and fully matches its pattern."""
    if desc is None or not desc.national_number_pattern:
        return "false"
    match = f"regexp_full_match({nsn}, {_literal(desc.national_number_pattern)})"
    if not desc.possible_length:
        return match
    lengths = ", ".join(str(length) for length in desc.possible_length)
    return f"(length({nsn}) IN ({lengths}) AND {match})"


def _matches_types(nsn: str, metadata: phonenumbers.PhoneMetadata) -> str:
    """SQL: _number_type_helper(nsn, metadata) != UNKNOWN: the general description and one type match."""
    types = [getattr(metadata, name) for name in _NUMBER_TYPES]
    if not metadata.same_mobile_and_fixed_line_pattern:
        types.append(metadata.mobile)
    any_type = " OR ".join(_matches_desc(nsn, desc) for desc in types)
    return f"({_matches_desc(nsn, metadata.general_desc)} AND ({any_type}))"


def _nanp_metadata() -> list[tuple[str, phonenumbers.PhoneMetadata]]:
    """The North American regions in phonenumbers' order (region_codes_for_country_code), with metadata."""
    regions = phonenumbers.region_codes_for_country_code(_NANP_CODE)
    found = ((region, phonenumbers.PhoneMetadata.metadata_for_region(region)) for region in regions)
    return [(region, metadata) for region, metadata in found if metadata is not None]


def _number_region(nsn: str) -> str:
    """SQL: region_code_for_number (_region_code_for_number_from_list): the first region whose leading
    digits start the number or, for a region without leading digits, whose number types match it; NULL
    for none."""
    whens = []
    for region, metadata in _nanp_metadata():
        if metadata.leading_digits is not None:
            test = f"regexp_matches({nsn}, {_literal(f'^(?:{metadata.leading_digits})')})"
        else:
            test = _matches_types(nsn, metadata)
        whens.append(f"WHEN {test} THEN {_literal(region)}")
    return f"CASE {' '.join(whens)} END"


def _valid_in_region(nsn: str, where: str) -> str:
    """SQL: is_valid_number_for_region(number, where) for the region region_code_for_number gave (NULL:
    none, not valid). A region found by its number types (no leading digits) has already matched them."""
    whens = [
        f"WHEN {where} = {_literal(region)} THEN {_matches_types(nsn, metadata)}"
        for region, metadata in _nanp_metadata()
        if metadata.leading_digits is not None
    ]
    return f"CASE WHEN {where} IS NULL THEN false {' '.join(whens)} ELSE true END"


def _national_number(raw: str) -> str:
    """SQL: the national significant number phonenumbers.parse gives a number of the North American shape.

    Its last ten digits, but for "1" (no "+") then ten digits starting with "1": parse strips the country
    code and then the national prefix "1" (the eleven digits are too long for the region), leaving nine.
    """
    digits = f"regexp_replace({raw}, '[^0-9]', '', 'g')"
    return (
        f"CASE WHEN NOT starts_with({raw}, '+') AND regexp_full_match({digits}, '11[0-9]{{9}}') "
        f"THEN right({digits}, 9) ELSE right({digits}, 10) END"
    )


def _international_prefix(raw: str, metadata: phonenumbers.PhoneMetadata) -> str:
    """SQL: ten digits that parse reads as an international call (the region's prefix "011", then a
    country code, which never starts with 0): another country's number, left to Python."""
    if metadata.international_prefix is None:
        return "false"
    digits = f"regexp_replace({raw}, '[^0-9]', '', 'g')"
    pattern = f"^(?:{metadata.international_prefix})[1-9]"
    return f"(length({digits}) = 10 AND regexp_matches({digits}, {_literal(pattern)}))"


def _compiles(patterns: list[str]) -> bool:
    """Whether DuckDB (RE2) compiles every pattern (phonenumbers writes them for Python's re)."""
    checks = ", ".join(f"regexp_matches('', {_literal(pattern)})" for pattern in patterns)
    with duckdb.connect() as con:
        try:
            con.execute(f"SELECT {checks}")
        except duckdb.Error:
            return False
    return True


@functools.cache
def _metadata_compiles() -> bool:
    """Whether DuckDB compiles every pattern the fast path takes from the North American metadata: if
    one does not, the fast path answers no number (Python checks them all, as before it existed)."""
    patterns = []
    for _, metadata in _nanp_metadata():
        if metadata.leading_digits is not None:
            patterns.append(f"^(?:{metadata.leading_digits})")
        for name in ("general_desc", "mobile", *_NUMBER_TYPES):
            desc = getattr(metadata, name)
            if desc is not None and desc.national_number_pattern:
                patterns.append(desc.national_number_pattern)
    return _compiles(patterns)


def phone_check(raw: str, region: str) -> str:
    """SQL: normalize_phone's answer for a ``raw`` of a common North American shape, when the district's
    region is in the North American plan: a struct (answered, value, warning), as contact_info words it.

    Built from phonenumbers' own metadata as its parse and is_valid_number work: the E.164 number when
    valid, else "no such number in" region_code_for_number's region (or the district's). Not answered
    (Python decides): another shape, a region outside the plan, a number dialled abroad (see
    ``_international_prefix``), or metadata whose patterns DuckDB cannot compile.
    """
    metadata = dict(_nanp_metadata()).get(region)
    if metadata is None or not _metadata_compiles():
        return _NO_ANSWER
    not_valid = "phone number is not valid: no such number in "
    answer = _let(
        "place",
        _number_region("nsn"),
        f"CASE WHEN {_valid_in_region('nsn', 'place')} "
        f"THEN {{'answered': true, 'value': '+{_NANP_CODE}' || nsn, 'warning': NULL::VARCHAR}} "
        f"ELSE {{'answered': true, 'value': NULL::VARCHAR, "
        f"'warning': {_literal(not_valid)} || coalesce(place, {_literal(region)})}} END",
    )
    return (
        f"CASE WHEN regexp_full_match({raw}, {_literal(_NANP_SHAPE)}) "
        f"AND NOT {_international_prefix(raw, metadata)} "
        f"THEN {_let('nsn', _national_number(raw), answer)} ELSE {_NO_ANSWER} END"
    )
