"""
Identity validators (domain.md §7): normalise once, then validate.

Each `normalize_*` returns the canonical form or raises ValidationError with a stable
`code`, which the platform API reports per row and forms show as a message.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
VALID_PROVINCE_PREFIXES = {
    *(str(n) for n in range(11, 66)),
    "71",
    "81",
    "82",
    "83",
}

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
USCC_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")

MSG_ID_FORMAT = _("身份证号应为18位,最后一位可以是数字或X。")
MSG_ID_CHECKSUM = _("身份证号校验位不正确,请核对后重新输入。")
MSG_ID_BIRTH_DATE = _("身份证号中的出生日期无效。")
MSG_ID_REGION = _("身份证号的地区代码无效。")
MSG_AGE_RANGE = _("入会年龄须在{low}至{high}周岁之间。")
MSG_PHONE = _("请输入11位中国大陆手机号。")
MSG_NAME = _("请输入1至50个字的真实姓名。")
MSG_USCC_FORMAT = _("统一社会信用代码应为18位数字或大写字母(不含I、O、S、V、Z)。")
MSG_USCC_CHECKSUM = _("统一社会信用代码校验位不正确。")

_SPACES = re.compile(r"[\s\-\u3000]+")
_DISALLOWED_NAME_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}


def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value or "")


def id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


@dataclass(frozen=True)
class IdNumberInfo:
    number: str
    region_code: str
    birth_date: date
    gender: str  # "M" or "F"

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


def normalize_id_number(raw: str) -> str:
    """Full-width digits, spaces and lowercase x are normalised; a 15-digit legacy
    number is upgraded to 18 (insert "19", append the check character)."""
    value = _SPACES.sub("", _nfkc(raw)).upper()
    if re.fullmatch(r"\d{15}", value):
        first17 = value[:6] + "19" + value[6:]
        value = first17 + id_check_char(first17)
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise ValidationError(MSG_ID_FORMAT, code="invalid_id")
    return value


def parse_id_number(raw: str, *, today: date | None = None) -> IdNumberInfo:
    """Validate per BR-V1. Unknown or retired county codes are accepted (BR-V2);
    only the province prefix must exist."""
    value = normalize_id_number(raw)
    if id_check_char(value[:17]) != value[17]:
        raise ValidationError(MSG_ID_CHECKSUM, code="invalid_id")
    if value[:2] not in VALID_PROVINCE_PREFIXES:
        raise ValidationError(MSG_ID_REGION, code="invalid_id")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise ValidationError(MSG_ID_BIRTH_DATE, code="invalid_id") from exc
    today = today or date.today()  # noqa: DTZ011 - a calendar date in local time
    if born > today or born.year < 1800:
        raise ValidationError(MSG_ID_BIRTH_DATE, code="invalid_id")
    gender = "M" if int(value[16]) % 2 == 1 else "F"
    return IdNumberInfo(
        number=value, region_code=value[:6], birth_date=born, gender=gender
    )


def check_age(
    info: IdNumberInfo, *, low: int = 16, high: int = 70, today: date
) -> None:
    age = info.age_on(today)
    if not low <= age <= high:
        raise ValidationError(
            MSG_AGE_RANGE.format(low=low, high=high), code="age_out_of_range"
        )


def normalize_phone(raw: str) -> str:
    """BR-V6: strip spaces and dashes and a +86 / 86 / 0086 prefix."""
    value = _SPACES.sub("", _nfkc(raw))
    value = re.sub(r"^(\+86|0086|86)(?=1\d{10}$)", "", value)
    if not re.fullmatch(r"1[3-9]\d{9}", value):
        raise ValidationError(MSG_PHONE, code="invalid_phone")
    return value


def normalize_name(raw: str) -> str:
    """1-50 characters; "·" allowed for minority names; no control or bidi
    characters, no NUL (security.md IV1/B3)."""
    value = _nfkc(raw).strip()
    value = value.replace("\u30fb", "·").replace("\u2022", "·")
    if not 1 <= len(value) <= 50:
        raise ValidationError(MSG_NAME, code="invalid_name")
    if any(unicodedata.category(ch) in _DISALLOWED_NAME_CATEGORIES for ch in value):
        raise ValidationError(MSG_NAME, code="invalid_name")
    return value


def uscc_check_char(first17: str) -> str:
    total = sum(
        USCC_CHARS.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True)
    )
    remainder = 31 - total % 31
    return USCC_CHARS[0 if remainder == 31 else remainder]


def normalize_credit_code(raw: str) -> str:
    """GB 32100 unified social credit code (BR-V4); raises on format or check."""
    value = _SPACES.sub("", _nfkc(raw)).upper()
    if not USCC_RE.fullmatch(value):
        raise ValidationError(MSG_USCC_FORMAT, code="invalid_credit_code")
    if uscc_check_char(value[:17]) != value[17]:
        raise ValidationError(MSG_USCC_CHECKSUM, code="invalid_credit_code")
    return value


def credit_code_warnings(code: str, *, grassroots_union: bool = False) -> list[str]:
    """Advisory findings (BR-V4/V5) that never block saving."""
    warnings = []
    if code[0] not in "123456789ANY":
        warnings.append("登记管理部门代码不在国家标准列表中。")
    if grassroots_union and not code.startswith("81"):
        warnings.append("基层工会的统一社会信用代码通常以81开头。")
    region = code[2:8]
    if region != "100000" and region[:2] not in VALID_PROVINCE_PREFIXES:
        warnings.append("登记管理机关行政区划码无效。")
    return warnings
