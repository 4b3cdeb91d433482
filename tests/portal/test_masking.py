import re

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
