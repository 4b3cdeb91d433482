"""The per-row fast path produces exactly what portal.crypto produces."""

from __future__ import annotations

from members.models.people import ID_NUMBER_INDEX, PHONE_INDEX
from portal.crypto import blind_index, decrypt
from services.actions.batch_rows import (
    ID_AAD,
    ID_INDEX,
    PHONE_AAD,
    PHONE_INDEX_B,
    RowCrypto,
)


def test_row_crypto_matches_portal_crypto():
    fast = RowCrypto()
    number = "440305199003071236"
    assert fast.index(number, purpose=ID_INDEX) == blind_index(
        number, purpose=ID_NUMBER_INDEX
    )
    assert fast.index("13800138000", purpose=PHONE_INDEX_B) == blind_index(
        "13800138000", purpose=PHONE_INDEX
    )
    assert decrypt(
        fast.encrypt(number, purpose=ID_AAD), purpose="member.id_number"
    ) == (number)
    assert (
        decrypt(fast.encrypt("13800138000", purpose=PHONE_AAD), purpose="member.phone")
        == "13800138000"
    )


def test_csv_safe_prefixes_formula_cells():
    from services.selectors.batches import csv_safe

    assert csv_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_safe("+1") == "'+1"
    assert csv_safe("@x") == "'@x"
    assert csv_safe("-1") == "'-1"
    assert csv_safe("\tx") == "'\tx"
    assert csv_safe("正常") == "正常"
