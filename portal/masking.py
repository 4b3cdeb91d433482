"""
Display masking (脱敏), security.md section 3 and domain.md BR-V8.

Masking happens on the server: templates, serializers, the admin and log lines only
ever receive these forms. Every function accepts anything and never raises; empty or
short input becomes all asterisks.
"""

from __future__ import annotations

import re

# Numbers are matched whole: never inside a longer run of digits, and never as the
# fraction of a number below one ("succeeded in 0.0251941234561557s" is a duration,
# not a card). Other decimals are masked like any digits, because "1.13812345678"
# is how someone numbers a list of contacts. People also write numbers in groups
# ("138 1234 5678", "6222-0212-3456-7890"), so the usual groupings with one space
# or hyphen between groups are matched too.
_NOT_AFTER_DIGITS = r"(?<!\d)(?<!(?<!\d)0\.)"
_SEP = r"[ -]"
_ID_RE = re.compile(
    r"(?<![0-9A-Za-z])(?<!(?<!\d)0\.)"
    rf"(?:\d{{17}}|\d{{6}}{_SEP}\d{{8}}{_SEP}\d{{3}}"
    rf"|\d{{6}}{_SEP}\d{{4}}{_SEP}\d{{4}}{_SEP}\d{{3}})"
    r"[\dXx](?![0-9A-Za-z])"
)
_MOBILE_RE = re.compile(
    rf"{_NOT_AFTER_DIGITS}(?:\+?86{_SEP}?)?"
    rf"(?:1[3-9]\d{{9}}|1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}})(?!\d)"
)
_CARD_RE = re.compile(
    rf"{_NOT_AFTER_DIGITS}"
    rf"(?:\d{{13,19}}|\d{{4}}(?:{_SEP}\d{{4}}){{3}}(?:{_SEP}\d{{1,3}})?"
    rf"|\d{{6}}{_SEP}\d{{7,13}})"
    r"(?!\d)"
)


def _keep(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return "*" * len(value) if value else ""
    return (
        value[:head]
        + "*" * (len(value) - head - tail)
        + (value[-tail:] if tail else "")
    )


def mask_id_number(value: str | None) -> str:
    """`440305199003071236` -> `4****************6` (hides region, birth date, sex)."""
    return _keep(str(value or ""), 1, 1)


def mask_id_number_for_reviewer(value: str | None) -> str:
    """`440305199003071236` -> `440305********1236` (assigned reviewer's detail)."""
    return _keep(str(value or ""), 6, 4)


def mask_phone(value: str | None) -> str:
    """`13812345678` -> `138****5678`."""
    return _keep(str(value or ""), 3, 4)


def mask_bank_card(value: str | None) -> str:
    """Reviewer / finance form: first 6, last 4."""
    return _keep(str(value or ""), 6, 4)


def mask_bank_card_tail(value: str | None) -> str:
    """Worker form: `尾号0128`."""
    value = str(value or "")
    return f"尾号{value[-4:]}" if len(value) >= 4 else "****"


def mask_name(value: str | None) -> str:
    """`张三丰` -> `张**`; a one-character name stays `*`."""
    value = str(value or "")
    if len(value) <= 1:
        return "*" * len(value)
    return value[0] + "*" * (len(value) - 1)


def _digits(value: str) -> str:
    return re.sub(r"[ -]", "", value)


def mask_text(text: str) -> str:
    """Mask anything that looks like an ID number, mobile or card in free text.

    A grouped number comes back in the masked form of its digits
    ("138 1234 5678" -> "138****5678")."""
    text = _ID_RE.sub(lambda m: mask_id_number(_digits(m.group(0))), text)
    text = _MOBILE_RE.sub(lambda m: mask_phone(_digits(m.group(0))[-11:]), text)
    return _CARD_RE.sub(lambda m: mask_bank_card(_digits(m.group(0))), text)
