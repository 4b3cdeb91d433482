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


def test_bulk_crypto_matches_portal_crypto():
    from portal.crypto import BulkCrypto

    bulk = BulkCrypto()
    number = "440305199003071236"
    nonces = bulk.nonces(2)
    assert len(nonces) == 24 and nonces[:12] != nonces[12:]
    assert bulk.indexer(ID_NUMBER_INDEX)(number) == blind_index(
        number, purpose=ID_NUMBER_INDEX
    )
    assert bulk.indexer(PHONE_INDEX)("13800138000") == blind_index(
        "13800138000", purpose=PHONE_INDEX
    )
    sealed = bulk.encrypt(number, aad=ID_AAD, nonce=nonces[:12])
    assert sealed.startswith(bulk.prefix)
    assert decrypt(sealed, purpose="member.id_number") == number
    phone = bulk.encrypt("13800138000", aad=PHONE_AAD, nonce=nonces[12:])
    assert decrypt(phone, purpose="member.phone") == "13800138000"


def _messy_rows() -> list[list[str]]:
    from datetime import date

    from tests.factories import make_id_number
    from tests.services.platform.builders import bad_check, id_with_x, rider_row

    fullwidth = make_id_number(born=date(1989, 4, 4)).translate(
        str.maketrans("0123456789", "０１２３４５６７８９")
    )
    fifteen = "440305" + "880808" + "123"
    return [
        rider_row(rider_id="A1"),
        rider_row(name="阿依古丽·买买提", rider_id="A2", phone="13900139002"),
        rider_row(name=" 王 五 ", rider_id="A3"),  # spaces: slow path normalises
        rider_row(name="Zhang San", rider_id="A4"),
        rider_row(name="李・四", rider_id="A5"),
        rider_row(name="x" * 51, rider_id="A6"),
        rider_row(name="张\u200b三", rider_id="A7"),
        rider_row(id_number=id_with_x().lower(), rider_id="A8"),
        rider_row(id_number=id_with_x(), rider_id="A9"),
        rider_row(id_number=fullwidth, rider_id="A10"),
        rider_row(id_number=fifteen, rider_id="A11"),
        rider_row(id_number=bad_check(make_id_number()), rider_id="A12"),
        rider_row(id_number="990305199003071234", rider_id="A13"),
        rider_row(id_number="44030519901307123X", rider_id="A14"),
        rider_row(phone="+86 138-0013-8000", rider_id="A15"),
        rider_row(phone="12800138000", rider_id="A16"),
        rider_row(phone="1380013800", rider_id="A17"),
        rider_row(occupation="courier", rider_id="A18"),
        rider_row(occupation="  骑手 ", rider_id="A19"),
        rider_row(occupation="宇航员", rider_id="A20"),
        rider_row(city_code="440304", rider_id="A21"),
        rider_row(city_code="110105", rider_id="A22"),
        rider_row(city_code="4403", rider_id="A23"),
        rider_row(rider_id="bad id!"),
        rider_row(rider_id=" A25 "),
        rider_row(joined="", rider_id="A26"),
        rider_row(joined="2024/02/03", rider_id="A27"),
        rider_row(joined="2999-01-01", rider_id="A28"),
        rider_row(joined="yesterday", rider_id="A29"),
        rider_row(consent_ref="", rider_id="A30"),
        rider_row(consented_at=" ", rider_id="A31"),
        rider_row(consented_at="2999-01-01 00:00:00", rider_id="A32"),
        rider_row(consented_at="2026/01/01 10:00:00+08:00", rider_id="A33"),
        rider_row(consent_ref="tab\there\\back", rider_id="A34"),
        rider_row(consent_ref="nul\x00x", rider_id="A35"),
        rider_row(consent_ref="c" * 129, rider_id="A36"),
        rider_row(name="张\ufffd", rider_id="A37"),
        ["only", "three", "values"],
        rider_row(id_number=make_id_number(born=date(1799, 1, 1)), rider_id="A39"),
    ]


def test_fast_copy_lines_match_the_reference_row_by_row(
    db, nanshan_gig_pool, futian_gig_pool, monkeypatch
):
    """copy_lines (fast path) and stage_row (reference) agree on every row of a
    messy file: same errors, same normalised values, same blind indexes; the
    ciphertexts differ (fresh nonces) but decrypt to the same values."""
    from django.utils import timezone

    from services.actions import batch_rows
    from services.actions.batch_rows import (
        STAGE_COLUMNS,
        RowContext,
        copy_lines,
        stage_row,
        tuple_copy_line,
    )

    now = timezone.now()
    ctx = RowContext(today=timezone.localdate(now), now=now)
    rows = _messy_rows()
    slow_rows: list[int] = []

    def counting_stage_row(**kwargs):
        slow_rows.append(kwargs["row_no"])
        return stage_row(**kwargs)

    monkeypatch.setattr(batch_rows, "stage_row", counting_stage_row)
    fast = copy_lines(batch_id=7, first_row=1, rows=rows, ctx=ctx)
    monkeypatch.undo()
    assert len(fast) == len(rows)
    # plain rows (and names that only need normalising) took the fast path;
    # everything unusual or wrong went through the reference implementation
    assert {1, 2, 9, 18, 21, 25, 26, 27, 33}.isdisjoint(slow_rows)
    assert {6, 7, 8, 10, 11, 12, 15, 16, 20, 30, 35, 37, 38} <= set(slow_rows)
    encrypted = {"id_enc": "member.id_number", "phone_enc": "member.phone"}
    fast_path_rows = 0
    for row_no, (values, line) in enumerate(zip(rows, fast, strict=True), start=1):
        reference = tuple_copy_line(
            stage_row(batch_id=7, row_no=row_no, values=values, ctx=ctx)
        )
        got = dict(zip(STAGE_COLUMNS, line.rstrip("\n").split("\t"), strict=True))
        want = dict(zip(STAGE_COLUMNS, reference.rstrip("\n").split("\t"), strict=True))
        for column, purpose in encrypted.items():
            if want[column] != "\\N":
                assert decrypt(got.pop(column), purpose=purpose) == decrypt(
                    want.pop(column), purpose=purpose
                ), (row_no, column)
        assert got == want, row_no
        fast_path_rows += got["valid"] == "t"
    assert fast_path_rows >= 10
