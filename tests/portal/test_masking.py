import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal import masking


def test_project_standard_formats():
    assert masking.mask_id_number("440305199003071236") == "4****************6"
    assert masking.mask_id_number_for_reviewer("440305199003071236") == (
        "440305********1236"
    )
    assert masking.mask_phone("13812345678") == "138****5678"
    assert masking.mask_bank_card("6222021234567890128") == "622202*********0128"
    assert masking.mask_bank_card_tail("6222021234567890128") == "尾号0128"
    assert masking.mask_name("张三丰") == "张**"
    assert masking.mask_name("阿卜杜拉·艾买提") == "阿*******"


def test_pinned_regexes_from_security_md():
    assert re.fullmatch(r"\d\*{16}[\dX]", masking.mask_id_number("11010519491231002X"))
    assert re.fullmatch(r"1[3-9]\d\*{4}\d{4}", masking.mask_phone("13812345678"))


def test_mask_text_hides_ids_phones_and_cards_in_free_text():
    text = "ID 440305199003071236 phone +8613812345678 card 6222021234567890128"

    masked = masking.mask_text(text)

    assert "440305199003071236" not in masked
    assert "13812345678" not in masked
    assert "6222021234567890128" not in masked
    assert "4****************6" in masked


@given(st.text())
def test_masks_never_fail_and_never_grow_the_secret(value):
    for fn in (
        masking.mask_id_number,
        masking.mask_phone,
        masking.mask_bank_card,
        masking.mask_name,
    ):
        out = fn(value)
        assert len(out) == len(value)
    masking.mask_text(value)
    masking.mask_bank_card_tail(value)


@pytest.mark.parametrize(
    ("text", "secret", "shown"),
    [
        ("电话 138 1234 5678 找我", "1234 5678", "138****5678"),
        ("电话 138-1234-5678", "1234-5678", "138****5678"),
        ("+86 13812345678", "13812345678", "138****5678"),
        ("卡号 6222 0212 3456 7890 128", "0212 3456 7890", "622202*********0128"),
        ("卡号 6222-0212-3456-7890", "0212-3456", "622202******7890"),
        ("卡号 622202 1234567890128", "1234567890128", "622202*********0128"),
        ("身份证 440305 19900307 1236", "19900307", "4****************6"),
        ("身份证 440305 1990 0307 123X", "1990 0307", "4****************X"),
        # A list numbered "1." is still a list of phones.
        ("联系人 1.13812345678 2.13987654321", "13812345678", "1.138****5678"),
        # A card followed by a separate small number is still masked whole.
        ("6222021234567890128 2张", "6222021234567890128", "622202*********0128"),
    ],
)
def test_mask_text_finds_grouped_and_numbered_numbers(text, secret, shown):
    masked = masking.mask_text(text)

    assert secret not in masked
    assert shown in masked


@pytest.mark.parametrize(
    "text",
    [
        # Celery's "succeeded in …s": the fraction of a duration is not a card.
        "Task x succeeded in 0.0251941234561557s: None",
        "耗时0.2519412345615571秒",
        "2026-12-05 00:01:43 batch 12 rows 345",
        "processed 1000 2000 3000",
        "座机 0755-8888 8888",
    ],
)
def test_mask_text_leaves_ordinary_numbers_alone(text):
    assert masking.mask_text(text) == text
