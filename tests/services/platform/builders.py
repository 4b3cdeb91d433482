"""CSV builders for platform batch tests."""

from __future__ import annotations

from datetime import date

from services.actions.batch_rows import CSV_HEADER
from tests.factories import make_id_number


def rider_row(
    *,
    name: str = "张三",
    id_number: str | None = None,
    phone: str = "13800138000",
    occupation: str = "外卖员",
    city_code: str = "440305",
    rider_id: str = "R1",
    joined: str = "2024-01-01",
    consent_ref: str = "CONSENT-1",
    consented_at: str = "2026-01-01 10:00:00",
    born: date = date(1990, 3, 7),
) -> list[str]:
    return [
        name,
        id_number or make_id_number(born=born),
        phone,
        occupation,
        city_code,
        rider_id,
        joined,
        consent_ref,
        consented_at,
    ]


def id_with_x(*, born: date = date(1990, 3, 7), region: str = "440305") -> str:
    """A valid ID number whose check character is X."""
    from members.validators import id_check_char

    for seq in range(1000):
        first17 = f"{region}{born:%Y%m%d}{seq:03d}"
        if id_check_char(first17) == "X":
            return first17 + "X"
    raise AssertionError("no X check char found")


def bad_check(id_number: str) -> str:
    last = id_number[-1]
    return id_number[:-1] + ("1" if last != "1" else "2")


def csv_bytes(
    rows: list[list[str]], *, encoding: str = "utf-8", newline: str = "\n"
) -> bytes:
    lines = [CSV_HEADER] + [",".join(r) for r in rows]
    return (newline.join(lines) + newline).encode(encoding)
