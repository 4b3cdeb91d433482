"""domain.md §7 worked examples, plus property tests."""

import contextlib
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from members import validators as v


@pytest.mark.parametrize(
    "number, born, gender",
    [
        ("11010519491231002X", date(1949, 12, 31), "F"),  # Ex 1
        ("440524188001010014", date(1880, 1, 1), "M"),  # Ex 2, retired county code
        ("440305199003071236", date(1990, 3, 7), "M"),  # Ex 3
        ("810000199408230021", date(1994, 8, 23), "F"),  # HK residence permit
    ],
)
def test_worked_examples_are_valid(number, born, gender):
    info = v.parse_id_number(number, today=date(2026, 11, 23))

    assert info.number == number
    assert info.birth_date == born
    assert info.gender == gender


def test_bad_check_digit_is_refused():
    with pytest.raises(ValidationError) as exc:
        v.parse_id_number("440305199003071235")
    assert exc.value.messages == [v.MSG_ID_CHECKSUM]
    assert exc.value.code == "invalid_id"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("11010519491231002x", "11010519491231002X"),
        (" 4403 0519 9003 0712 36 ", "440305199003071236"),
        ("４４０３０５１９９００３０７１２３６", "440305199003071236"),
        ("610104620927690", "610104196209276908"),  # Ex 4: 15 -> 18
    ],
)
def test_normalisation(raw, expected):
    assert v.normalize_id_number(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["44030519900307123", "x", "", "44030520990101123X", "440305199002301234"],
)
def test_malformed_ids_raise_validation_errors_never_crash(raw):
    with pytest.raises(ValidationError):
        v.parse_id_number(raw, today=date(2026, 11, 23))


def test_future_birth_date_is_refused():
    first17 = "44030520990101123"
    number = first17 + v.id_check_char(first17)
    with pytest.raises(ValidationError) as exc:
        v.parse_id_number(number, today=date(2026, 11, 23))
    assert exc.value.messages == [v.MSG_ID_BIRTH_DATE]


def test_age_range_for_joining():
    info = v.parse_id_number("440305199003071236")
    v.check_age(info, today=date(2026, 11, 23))
    with pytest.raises(ValidationError):
        v.check_age(info, today=date(2006, 3, 6))  # 15 years old
    with pytest.raises(ValidationError):
        v.check_age(info, today=date(2061, 3, 7))  # 71 years old


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)),
    st.integers(min_value=0, max_value=999),
)
def test_any_generated_id_round_trips(born, seq):
    first17 = f"440305{born:%Y%m%d}{seq:03d}"
    number = first17 + v.id_check_char(first17)

    info = v.parse_id_number(number, today=date(2026, 11, 23))

    assert info.birth_date == born
    assert info.gender == ("M" if seq % 2 else "F")


@given(st.text(max_size=40))
def test_parse_id_number_only_ever_raises_validation_error(raw):
    with contextlib.suppress(ValidationError):
        v.parse_id_number(raw, today=date(2026, 11, 23))


@pytest.mark.parametrize(
    "raw", ["13812345678", "+86 138-1234-5678", "008613812345678", "8613812345678"]
)
def test_phone_normalisation(raw):
    assert v.normalize_phone(raw) == "13812345678"


@pytest.mark.parametrize("raw", ["12812345678", "1381234567", "abc", "", "+1 415 555"])
def test_bad_phones(raw):
    with pytest.raises(ValidationError) as exc:
        v.normalize_phone(raw)
    assert exc.value.code == "invalid_phone"


@pytest.mark.parametrize(
    "raw, ok",
    [
        ("阿卜杜拉·艾买提", True),
        ("张" * 51, False),
        ("张\u202e三", False),
        ("张\x00三", False),
        ("   ", False),
    ],
)
def test_names(raw, ok):
    if ok:
        assert v.normalize_name(raw) == raw
    else:
        with pytest.raises(ValidationError):
            v.normalize_name(raw)


@pytest.mark.parametrize("code", ["91440300MA5F3K2L57", "81440300MA5F12342R"])
def test_credit_code_examples(code):
    assert v.normalize_credit_code(code.lower()) == code


def test_credit_code_bad_check_and_charset():
    with pytest.raises(ValidationError):
        v.normalize_credit_code("81440300MA5F12342Q")
    with pytest.raises(ValidationError):
        v.normalize_credit_code("81440300MA5F1234IO")


def test_grassroots_union_credit_code_warning():
    assert v.credit_code_warnings("91440300MA5F3K2L57", grassroots_union=True) == [
        "基层工会的统一社会信用代码通常以81开头。"
    ]
    assert v.credit_code_warnings("81440300MA5F12342R", grassroots_union=True) == []


# --- extended property tests (issue #3) ------------------------------------------

_FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


@given(
    st.dates(min_value=date(1956, 11, 24), max_value=date(2010, 11, 23)),
    st.integers(min_value=0, max_value=999),
    st.sampled_from(["440303", "440304", "440305", "110105", "810000"]),
    st.sampled_from(["plain", "spaces", "lower", "fullwidth", "ideographic_space"]),
)
def test_any_spelling_of_a_valid_id_normalises_to_one_value(born, seq, region, style):
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    number = first17 + v.id_check_char(first17)
    spelled = {
        "plain": number,
        "spaces": f" {number[:6]} {number[6:14]} {number[14:]} ",
        "lower": number.lower(),
        "fullwidth": number.translate(_FULL_WIDTH),
        "ideographic_space": number[:6] + "\u3000" + number[6:],
    }[style]

    info = v.parse_id_number(spelled, today=date(2026, 11, 23))

    assert info.number == number
    v.check_age(info, today=date(2026, 11, 23))  # 16..70 by construction


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)),
    st.integers(min_value=0, max_value=999),
)
def test_fifteen_digit_numbers_upgrade_to_a_valid_eighteen(born, seq):
    legacy = f"440305{born:%y%m%d}{seq:03d}"

    upgraded = v.normalize_id_number(legacy)

    assert len(upgraded) == 18
    assert upgraded[6:8] == "19"
    assert v.parse_id_number(upgraded, today=date(2026, 11, 23)).number == upgraded


@given(
    st.text(alphabet="0123456789", min_size=17, max_size=17),
    st.sampled_from(list("0123456789X")),
)
def test_exactly_one_check_character_is_accepted(first17, last):
    number = first17 + last
    correct = v.id_check_char(first17) == last
    try:
        v.parse_id_number(number, today=date(2026, 11, 23))
        accepted = True
    except ValidationError as exc:
        accepted = False
        assert exc.code == "invalid_id"
    if not correct:
        assert not accepted


@given(
    st.text(alphabet=v.USCC_CHARS, min_size=17, max_size=17),
    st.sampled_from(list(v.USCC_CHARS)),
)
def test_credit_code_accepts_exactly_the_right_check_character(first17, last):
    code = first17 + last
    if v.uscc_check_char(first17) == last:
        assert v.normalize_credit_code(code.lower()) == code
    else:
        with pytest.raises(ValidationError):
            v.normalize_credit_code(code)


@given(st.text(max_size=30))
def test_phone_and_credit_code_only_raise_validation_errors(raw):
    with contextlib.suppress(ValidationError):
        v.normalize_phone(raw)
    with contextlib.suppress(ValidationError):
        v.normalize_credit_code(raw)


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_every_mobile_in_any_common_notation(phone):
    for spelled in (phone, f"+86 {phone}", f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"):
        assert v.normalize_phone(spelled) == phone
