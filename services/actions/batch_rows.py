"""Parsing, normalising and validating platform enrollment rows (CSV or JSON).

This is the only per-row Python work of a batch (encryption and the blind index
need the keys, which never reach the database). Everything after it is set-based
SQL in services/actions/batches.py. A row that fails here gets exactly one error
(the first one found), and the row is never written anywhere but the error list.
"""

from __future__ import annotations

import base64
import csv
import hmac
import io
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import mul
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError

from members.models import Occupation, UnionOrg
from members.models.people import ID_NUMBER_INDEX, PHONE_INDEX
from members.validators import (
    ID_CHECK_CHARS,
    ID_WEIGHTS,
    VALID_PROVINCE_PREFIXES,
    normalize_name,
    normalize_phone,
    parse_id_number,
)
from portal import crypto

CSV_COLUMNS = (
    "name",
    "id_number",
    "phone",
    "occupation",
    "city_code",
    "platform_rider_id",
    "joined_platform_on",
    "consent_ref",
    "consented_at",
)
CSV_HEADER = ",".join(CSV_COLUMNS)

SHANGHAI = ZoneInfo("Asia/Shanghai")
_RIDER_ID_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
_CITY_RE = re.compile(r"^\d{6}$")
_CONSENT_REF_MAX = 128

# Occupation as the code or its Chinese name; platforms also use these synonyms.
OCCUPATION_ALIASES: dict[str, str] = {
    "网约送餐员": Occupation.FOOD_DELIVERY,
    "外卖骑手": Occupation.FOOD_DELIVERY,
    "骑手": Occupation.FOOD_DELIVERY,
    "快递小哥": Occupation.COURIER,
    "网约货车司机": Occupation.FREIGHT,
    "网约客车司机": Occupation.RIDE_HAILING,
    "家政员": Occupation.DOMESTIC,
}


def _occupation_lookup() -> dict[str, str]:
    table = {code: code for code in Occupation.values}
    table.update({str(label): code for code, label in Occupation.choices})
    table.update(OCCUPATION_ALIASES)
    return table


OCCUPATIONS = _occupation_lookup()

MSG = {
    "malformed_row": "该行列数不正确,应为9列。",
    "malformed_quotes": (
        '该行引号不成对或位置不正确:字段内的双引号要写成两个(""),'
        "未闭合的引号会把后面的行并入该行。"
    ),
    "invalid_encoding": "该行含有无法识别的字符(请使用UTF-8或GBK编码)。",
    "consent_missing": (
        "缺少骑手单独同意向工会提供个人信息的凭证(consent_ref 和 consented_at)。"
    ),
    "invalid_consent": "同意时间格式不正确或晚于当前时间,应为 YYYY-MM-DD HH:MM:SS。",
    "unknown_occupation": "职业无法识别,请填写职业代码或中文名称(如 外卖员、快递员)。",
    "invalid_city_code": "城市代码应为6位行政区划代码。",
    "no_union_org": "该地区尚未设立新业态联合工会,暂不能接收。",
    "invalid_rider_id": "平台骑手编号应为1至64位字母、数字或 _ . : -。",
    "invalid_date": "入驻平台日期格式不正确或晚于今天,应为 YYYY-MM-DD。",
}


class RowCrypto:
    """portal.crypto's encrypt() and blind_index(), with the key lookups done once
    per chunk instead of once per value (the per-row cost dominates a batch).
    Output is identical: tests/services/platform/test_rows.py checks it."""

    def __init__(self) -> None:
        key_id, ring = crypto.keyring()
        self._prefix = f"{key_id}{crypto.SEPARATOR}"
        self._aead = ring[key_id]
        self._index_key = crypto._index_key(settings.BLIND_INDEX_KEY)

    def encrypt(self, plaintext: str, *, purpose: bytes) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), purpose)
        token = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return self._prefix + token

    def index(self, value: str, *, purpose: bytes) -> str:
        return hmac.digest(
            self._index_key, purpose + b"\x00" + value.encode(), "sha256"
        ).hex()


ID_AAD = b"member.id_number"
PHONE_AAD = b"member.phone"
ID_INDEX = ID_NUMBER_INDEX.encode()
PHONE_INDEX_B = PHONE_INDEX.encode()


@dataclass
class RowContext:
    """Per-batch facts the parser needs; org lookups are cached per city code."""

    today: date
    now: datetime
    orgs_by_city: dict[str, int | None] = field(default_factory=dict)
    crypto: RowCrypto = field(default_factory=RowCrypto)

    def org_for_city(self, city_code: str) -> int | None:
        if city_code not in self.orgs_by_city:
            self.orgs_by_city[city_code] = gig_pool_for_city(city_code=city_code)
        return self.orgs_by_city[city_code]


def gig_pool_for_city(*, city_code: str) -> int | None:
    """The 新业态联合工会 a platform rider joins: the pool of the exact district,
    else the city-level pool, else any pool in the same city (lowest id)."""
    pools = UnionOrg.objects.filter(is_gig_pool=True, is_active=True)
    for candidate in (
        pools.filter(region_code=city_code),
        pools.filter(region_code=city_code[:4] + "00"),
        pools.filter(region_code__startswith=city_code[:4]),
    ):
        org_id = candidate.order_by("id").values_list("id", flat=True).first()
        if org_id is not None:
            return org_id
    return None


class MalformedRecord(list):
    """A CSV record that is not well-formed CSV (a quote left open to the end of
    the file, text after a closing quote, a bare carriage return): it has no
    fields and is staged as one malformed_row error, so the rows around it are
    counted and numbered as usual."""


def _record_values(record: str) -> list[str]:
    try:
        rows = list(csv.reader((record,), strict=True))
    except csv.Error:
        return MalformedRecord()
    return rows[0] if len(rows) == 1 else MalformedRecord()


def csv_records(text: str) -> Iterator[list[str]]:
    """The data rows of a chunk of a batch file, one per record exactly as
    services.actions.batches._scan_chunks counts them, so row numbers and
    total_rows always agree: lines end at '\n'; a line with an odd number of
    quotes opens a record that runs to the next such line; blank lines outside
    quotes are skipped. A quote still open at the end of the text leaves the line
    that opened it a MalformedRecord of its own, and the lines after it (which
    then hold no odd quote count) are records as usual."""
    if '"' not in text and text.count("\r") == text.count("\r\n"):
        # No quotes and no bare CR: the csv module's records are the lines.
        yield from (row for row in csv.reader(io.StringIO(text, newline="")) if row)
        return
    lines = text.split("\n")
    count, i = len(lines), 0
    while i < count:
        line = lines[i]
        if not line.count('"') % 2:
            if line.strip("\r\n"):
                yield _record_values(line + "\n")
            i += 1
            continue
        end = i + 1
        while end < count and not lines[end].count('"') % 2:
            end += 1
        if end == count:
            yield MalformedRecord()
            i += 1
            continue
        yield _record_values("\n".join(lines[i : end + 1]) + "\n")
        i = end + 1


class RowError(Exception):
    def __init__(self, code: str, field_name: str, message: str | None = None):
        super().__init__(code)
        self.code = code
        self.field = field_name
        self.message = message or MSG[code]


def _parse_date(value: str, *, field_name: str, today: date) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value.replace("/", "-"))
    except ValueError as exc:
        raise RowError("invalid_date", field_name) from exc
    if parsed > today:
        raise RowError("invalid_date", field_name)
    return parsed


def _parse_consented_at(value: str, *, now: datetime) -> datetime:
    text = value.strip().replace("/", "-")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise RowError("invalid_consent", "consented_at") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=SHANGHAI)
    if parsed > now + timedelta(minutes=10):
        raise RowError("invalid_consent", "consented_at")
    return parsed


def _clean_text(value: str) -> str:
    return value.strip().replace("\x00", "")


# A staged row: the column order of BatchStagingRow used by COPY / executemany.
STAGE_COLUMNS = (
    "batch_id",
    "row_no",
    "name",
    "id_hmac",
    "id_enc",
    "phone_hmac",
    "phone_enc",
    "birth_date",
    "gender",
    "occupation",
    "city_code",
    "org_id",
    "rider_id",
    "joined_on",
    "consent_ref",
    "consented_at",
    "valid",
    "err_field",
    "err_code",
    "err_message",
    "member_id",
    "member_new",
    "outcome",
)


def stage_row(
    *, batch_id: int, row_no: int, values: list[str], ctx: RowContext
) -> tuple:
    """Validate one row and return its staging tuple (STAGE_COLUMNS order)."""
    try:
        if isinstance(values, MalformedRecord):
            raise RowError("malformed_row", "", MSG["malformed_quotes"])
        if len(values) != len(CSV_COLUMNS):
            raise RowError("malformed_row", "")
        if any("\ufffd" in v for v in values):
            raise RowError("invalid_encoding", "")
        (
            raw_name,
            raw_id,
            raw_phone,
            raw_occupation,
            raw_city,
            raw_rider,
            raw_joined,
            raw_consent_ref,
            raw_consented_at,
        ) = values
        consent_ref = _clean_text(raw_consent_ref)
        if not consent_ref or not raw_consented_at.strip():
            raise RowError("consent_missing", "consent_ref")
        if len(consent_ref) > _CONSENT_REF_MAX:
            raise RowError(
                "invalid_consent", "consent_ref", "同意凭证不能超过128个字符。"
            )
        consented_at = _parse_consented_at(raw_consented_at, now=ctx.now)
        try:
            name = normalize_name(raw_name)
        except ValidationError as exc:
            raise RowError("invalid_name", "name", exc.messages[0]) from exc
        try:
            info = parse_id_number(raw_id, today=ctx.today)
        except ValidationError as exc:
            raise RowError("invalid_id", "id_number", exc.messages[0]) from exc
        try:
            phone = normalize_phone(raw_phone)
        except ValidationError as exc:
            raise RowError("invalid_phone", "phone", exc.messages[0]) from exc
        occupation = OCCUPATIONS.get(raw_occupation.strip().lower()) or OCCUPATIONS.get(
            raw_occupation.strip()
        )
        if occupation is None:
            raise RowError("unknown_occupation", "occupation")
        city_code = raw_city.strip()
        if not _CITY_RE.fullmatch(city_code):
            raise RowError("invalid_city_code", "city_code")
        rider_id = raw_rider.strip()
        if not _RIDER_ID_RE.fullmatch(rider_id):
            raise RowError("invalid_rider_id", "platform_rider_id")
        joined_on = _parse_date(
            raw_joined, field_name="joined_platform_on", today=ctx.today
        )
        org_id = ctx.org_for_city(city_code)
        if org_id is None:
            raise RowError("no_union_org", "city_code")
    except RowError as err:
        return (
            batch_id,
            row_no,
            *([None] * 14),
            False,
            err.field,
            err.code,
            err.message,
            None,
            False,
            "rejected",
        )
    return (
        batch_id,
        row_no,
        name,
        ctx.crypto.index(info.number, purpose=ID_INDEX),
        ctx.crypto.encrypt(info.number, purpose=ID_AAD),
        ctx.crypto.index(phone, purpose=PHONE_INDEX_B),
        ctx.crypto.encrypt(phone, purpose=PHONE_AAD),
        info.birth_date,
        info.gender,
        occupation,
        city_code,
        org_id,
        rider_id,
        joined_on,
        consent_ref,
        consented_at,
        True,
        None,
        None,
        None,
        None,
        False,
        None,
    )


def stage_rows(
    *,
    batch_id: int,
    first_row: int,
    rows: Iterable[list[str]],
    ctx: RowContext,
) -> Iterator[tuple]:
    for offset, values in enumerate(rows):
        yield stage_row(
            batch_id=batch_id, row_no=first_row + offset, values=values, ctx=ctx
        )


# --- the fast path: COPY text lines for PostgreSQL ---
#
# Most rows of a platform file are clean. For those, `copy_lines` does the same
# checks as stage_row with the per-row cost cut to the bone: values that repeat
# (names, birth dates, dates, timestamps, occupations, city codes) are validated
# once per chunk and cached; ID checksums are computed on the ASCII bytes; the
# crypto comes from portal.crypto.BulkCrypto. Any row that is not plainly valid
# on this path (full-width characters, 15-digit IDs, lowercase x, +86 phones,
# any error at all) goes through stage_row, so errors and their order are the
# reference implementation's. tests/services/platform/test_rows.py checks that
# both paths agree row for row on a messy file.

_ID_WEIGHT_SUM_48 = 48 * sum(ID_WEIGHTS)
_CJK_NAME_RE = re.compile(r"[\u4e00-\u9fa5\u00b7]{1,50}")
_PHONE_SECOND = frozenset("3456789")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"


def _copy_text(value) -> str:
    """One value in COPY text format."""
    if value is None:
        return _NULL
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def tuple_copy_line(row: tuple) -> str:
    return "\t".join(map(_copy_text, row)) + "\n"


class _Cache(dict):
    """value -> result of `fn(value)`, or None when fn raises (not fast-path)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def __missing__(self, key):
        try:
            result = self.fn(key)
        except (RowError, ValidationError, ValueError):
            result = None
        self[key] = result
        return result


def copy_lines(
    *,
    batch_id: int,
    first_row: int,
    rows: Iterable[list[str]],
    ctx: RowContext,
    check_encoding: bool = True,
) -> list[str]:
    """COPY (text format, STAGE_COLUMNS order) lines of `rows`, one per row."""
    bulk = crypto.BulkCrypto()
    encrypt = bulk.encrypt
    id_index = bulk.indexer(ID_NUMBER_INDEX)
    phone_index = bulk.indexer(PHONE_INDEX)
    today, now = ctx.today, ctx.now

    def birth(digits: str) -> str:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        if born > today or born.year < 1800:
            raise ValueError(digits)
        return born.isoformat()

    def city(code: str) -> str:
        code = code.strip()
        org_id = ctx.org_for_city(code) if _CITY_RE.fullmatch(code) else None
        if org_id is None:
            raise ValueError(code)
        return f"{code}\t{org_id}"

    def occupation(raw: str) -> str:
        code = OCCUPATIONS.get(raw.strip().lower()) or OCCUPATIONS.get(raw.strip())
        if code is None:
            raise ValueError(raw)
        return code

    def joined(raw: str) -> str:
        parsed = _parse_date(raw, field_name="joined_platform_on", today=today)
        return _NULL if parsed is None else parsed.isoformat()

    def name(raw: str) -> str:
        return normalize_name(raw).translate(_COPY_ESCAPES)

    births = _Cache(birth)
    cities = _Cache(city)
    occupations = _Cache(occupation)
    joined_dates = _Cache(joined)
    consent_times = _Cache(lambda raw: _parse_consented_at(raw, now=now).isoformat())
    names = _Cache(name)
    provinces = VALID_PROVINCE_PREFIXES
    rider_ok = _RIDER_ID_RE.fullmatch
    cjk_name = _CJK_NAME_RE.fullmatch
    weights = ID_WEIGHTS
    check_chars = ID_CHECK_CHARS
    head = f"{batch_id}\t"
    tail = "\tt\t\\N\t\\N\t\\N\t\\N\tf\t\\N\n"

    values_list = rows if isinstance(rows, list) else list(rows)
    nonces = bulk.nonces(2 * len(values_list))
    out: list[str] = []
    append = out.append
    row_no = first_row - 1
    for values in values_list:
        row_no += 1
        line = None
        if len(values) == 9 and not (
            check_encoding and any("\ufffd" in v for v in values)
        ):
            (
                raw_name,
                raw_id,
                raw_phone,
                raw_occupation,
                raw_city,
                raw_rider,
                raw_joined,
                raw_consent_ref,
                raw_consented_at,
            ) = values
            consent_ref = raw_consent_ref.strip()
            consented = consent_times[raw_consented_at] if consent_ref else None
            name_text = raw_name if cjk_name(raw_name) else names[raw_name]
            born = None
            if (
                len(raw_id) == 18
                and raw_id.isascii()
                and raw_id[:17].isdigit()
                and raw_id[:2] in provinces
            ):
                id_bytes = raw_id.encode()
                total = sum(map(mul, id_bytes[:17], weights)) - _ID_WEIGHT_SUM_48
                if check_chars[total % 11] == raw_id[17]:
                    born = births[raw_id[6:14]]
            rider_id = raw_rider.strip()
            if (
                consented
                and "\x00" not in consent_ref
                and len(consent_ref) <= _CONSENT_REF_MAX
                and name_text
                and born
                and len(raw_phone) == 11
                and raw_phone.isascii()
                and raw_phone.isdigit()
                and raw_phone[0] == "1"
                and raw_phone[1] in _PHONE_SECOND
                and (occupation_code := occupations[raw_occupation])
                and (city_org := cities[raw_city])
                and rider_ok(rider_id)
                and (joined_text := joined_dates[raw_joined])
            ):
                i = 24 * (row_no - first_row)
                id_nonce, phone_nonce = nonces[i : i + 12], nonces[i + 12 : i + 24]
                line = "".join(
                    (
                        head,
                        str(row_no),
                        "\t",
                        name_text,
                        "\t",
                        id_index(raw_id),
                        "\t",
                        encrypt(raw_id, aad=ID_AAD, nonce=id_nonce),
                        "\t",
                        phone_index(raw_phone),
                        "\t",
                        encrypt(raw_phone, aad=PHONE_AAD, nonce=phone_nonce),
                        "\t",
                        born,
                        "\t",
                        "FM"[id_bytes[16] & 1],
                        "\t",
                        occupation_code,
                        "\t",
                        city_org,
                        "\t",
                        rider_id,
                        "\t",
                        joined_text,
                        "\t",
                        consent_ref.translate(_COPY_ESCAPES),
                        "\t",
                        consented,
                        tail,
                    )
                )
        if line is None:
            line = tuple_copy_line(
                stage_row(batch_id=batch_id, row_no=row_no, values=values, ctx=ctx)
            )
        append(line)
    return out
