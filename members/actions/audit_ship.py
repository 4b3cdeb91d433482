"""Daily copy of the audit log to a separate store (security.md LG3, second half).

For each Asia/Shanghai calendar day D, `AUDIT_SHIP_DIR` gets two files:

* `audit-D.jsonl`: the day's `AuditLog` rows (created_at in [D 00:00, D+1 00:00)
  +08:00), one JSON object per line in id order, keys sorted, UTF-8, times in UTC
  with an explicit offset. Free text (`reason`, string values in `detail`) goes
  through `portal.masking.mask_text`, so an ID number or mobile a staff member
  typed into a reason is masked in the copy (LG2). A day without rows is an
  empty file: every day has its link in the chain.
* `audit-D.manifest.json`: one JSON line with the day, its bounds, the row count,
  first/last id, the SHA-256 of the .jsonl bytes, `prev` (the previous day's
  `hmac`; 64 zeros for the first day shipped), `key_id` and `hmac`:
  HMAC-SHA256 over the other fields (canonical JSON) with the key `key_id` names
  in AUDIT_SHIP_HMAC_KEYS (the first one signs, all verify: keys rotate without
  breaking the chain). A manifest without `key_id` (format 1, written before key
  ids existed, or while only the legacy setting is configured) is signed with
  AUDIT_SHIP_HMAC_KEY. Editing or deleting a line changes the SHA-256; fixing the
  SHA-256 needs a key for the HMAC; deleting or replacing a whole day breaks the
  next day's `prev`.

Both files are deterministic functions of the rows, so shipping a day twice
writes the same bytes. Each file is written to a temporary name in the same
directory, fsynced and renamed over the final name (atomic), the data file
before the manifest: a day is shipped once its manifest exists. A second
delivery of the task, or two at once, produce identical files; a day whose
manifest exists is recomputed and compared, never rewritten (`ShipMismatch` when
the database no longer gives the shipped bytes: a row changed or was added
after shipping, or the store was edited).

The chain starts at the first day shipped: the day of the oldest audit row on a
first run, else the day after the newest manifest. `ship_through(day)` ships
every missing day up to `day` in order, so a night the beat missed is caught up,
and then re-checks the day the previous run shipped against the database: a row
of that day whose transaction committed after the copy was made is missing from
it. Such rows are reported, never silently left out: an error log line, one
`audit_ship_late_rows` audit row naming them (so the next day's copy records
them), and `ShipLateRows` once the new days are shipped (the task fails).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from members.models import AuditLog
from portal.masking import mask_text

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
GENESIS = "0" * 64
FORMAT_LEGACY = 1  # no key id: signed with AUDIT_SHIP_HMAC_KEY
FORMAT = 2  # `key_id` names the AUDIT_SHIP_HMAC_KEYS entry that signed it
LATE_ROWS_ACTION = "audit_ship_late_rows"
_CHUNK = 5000
_COLUMNS = (
    "id",
    "created_at",
    "actor_id",
    "actor_role",
    "ip",
    "request_id",
    "action",
    "object_type",
    "object_id",
    "member_id",
    "field",
    "reason",
    "outcome",
    "detail",
)


class ShipError(Exception):
    pass


class ShipMismatch(ShipError):
    """The day's shipped files differ from what the database gives now."""


class ChainGap(ShipError):
    """The previous day is not shipped, so this day cannot be linked."""


class UnknownShipKey(ShipError):
    """A manifest names a key that is not configured (or, without a key id, the
    legacy AUDIT_SHIP_HMAC_KEY is not set)."""


class RetiredShipKey(ShipError):
    """A manifest names a key retired before its day (AUDIT_SHIP_KEY_LAST_DAYS)."""


class ShipLateRows(ShipMismatch):
    """The re-check of the previously shipped day found rows the copy lacks.
    `results`: the days `ship_through` shipped before it found them."""

    results: list = []


@dataclass(frozen=True)
class ShipResult:
    day: date
    rows: int
    written: bool  # False: already shipped with the same bytes


@dataclass
class DayCheck:
    day: date
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# --- days and paths --------------------------------------------------------------


def ship_dir() -> Path:
    return Path(settings.AUDIT_SHIP_DIR)


def _keyring() -> dict[str, bytes]:
    ring = {}
    for item in settings.AUDIT_SHIP_HMAC_KEYS:
        key_id, _, secret = item.partition(":")
        ring[key_id] = secret.encode()
    return ring


def signing_key_id() -> str | None:
    """The id new manifests are signed with: the first AUDIT_SHIP_HMAC_KEYS entry,
    or None (no id, legacy format) when only AUDIT_SHIP_HMAC_KEY is set."""
    if settings.AUDIT_SHIP_HMAC_KEYS:
        return settings.AUDIT_SHIP_HMAC_KEYS[0].partition(":")[0]
    if settings.AUDIT_SHIP_HMAC_KEY:
        return None
    raise ImproperlyConfigured(
        "AUDIT_SHIP_HMAC_KEYS is not set: the audit log cannot be shipped"
    )


def _key(key_id, *, day) -> bytes:
    if key_id is not None and not isinstance(key_id, str):
        raise UnknownShipKey(f"manifest key id is not a string: {key_id!r}")
    last_day = settings.AUDIT_SHIP_KEY_LAST_DAYS.get(
        "legacy" if key_id is None else key_id
    )
    if last_day is not None and str(day) > last_day.isoformat():
        # ISO dates compare as text; a malformed `day` sorts somewhere and fails
        # the signature or the chain anyway.
        raise RetiredShipKey(
            f"manifest of {day} signed with key id {key_id or 'legacy'!r}, "
            f"retired after {last_day}"
        )
    if key_id is None:
        if not settings.AUDIT_SHIP_HMAC_KEY:
            raise UnknownShipKey(
                "manifest without key id, and AUDIT_SHIP_HMAC_KEY (the legacy key) "
                "is not set"
            )
        return settings.AUDIT_SHIP_HMAC_KEY.encode()
    try:
        return _keyring()[key_id]
    except KeyError:
        raise UnknownShipKey(
            f"manifest signed with key id {key_id!r}, not in AUDIT_SHIP_HMAC_KEYS"
        ) from None


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=SHANGHAI)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=SHANGHAI)


def shanghai_day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def last_closed_day(now: datetime | None = None) -> date:
    """Yesterday in Asia/Shanghai: the newest day that is over."""
    return shanghai_day(now or timezone.now()) - timedelta(days=1)


def data_path(day: date) -> Path:
    return ship_dir() / f"audit-{day.isoformat()}.jsonl"


def manifest_path(day: date) -> Path:
    return ship_dir() / f"audit-{day.isoformat()}.manifest.json"


def shipped_days() -> list[date]:
    """Days with a manifest in the store, oldest first."""
    days = []
    for path in ship_dir().glob("audit-*.manifest.json"):
        try:
            days.append(date.fromisoformat(path.name[6:16]))
        except ValueError:
            continue
    return sorted(days)


# --- content -----------------------------------------------------------------------


def _masked(value):
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def _line(row: dict) -> bytes:
    row = dict(row)
    row["created_at"] = (
        row["created_at"].astimezone(UTC).isoformat(timespec="microseconds")
    )
    row["reason"] = mask_text(row["reason"])
    row["detail"] = _masked(row["detail"])
    text = json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text.encode() + b"\n"


def _day_lines(day: date) -> Iterator[tuple[int, bytes]]:
    """(id, line) of the day's rows in id order, keyset-paged (no long cursor)."""
    start, end = day_bounds(day)
    rows = AuditLog.objects.filter(created_at__gte=start, created_at__lt=end)
    last = 0
    while True:
        chunk = list(rows.filter(pk__gt=last).order_by("pk").values(*_COLUMNS)[:_CHUNK])
        for row in chunk:
            yield row["id"], _line(row)
        if len(chunk) < _CHUNK:
            return
        last = chunk[-1]["id"]


@dataclass
class _Digest:
    rows: int = 0
    first_id: int | None = None
    last_id: int | None = None
    sha: Any = field(default_factory=hashlib.sha256)

    def add(self, row_id: int, line: bytes) -> None:
        self.rows += 1
        if self.first_id is None:
            self.first_id = row_id
        self.last_id = row_id
        self.sha.update(line)


def _write_day(day: date, sink) -> _Digest:
    digest = _Digest()
    for row_id, line in _day_lines(day):
        digest.add(row_id, line)
        if sink is not None:
            sink.write(line)
    return digest


def manifest_body(
    day: date, digest: _Digest, prev: str, key_id: str | None = None
) -> dict:
    """The signed fields; `key_id` None = the legacy format (no key id)."""
    start, end = day_bounds(day)
    body = {
        "format": FORMAT if key_id is not None else FORMAT_LEGACY,
        "day": day.isoformat(),
        "timezone": "Asia/Shanghai",
        "start": start.astimezone(UTC).isoformat(),
        "end": end.astimezone(UTC).isoformat(),
        "rows": digest.rows,
        "first_id": digest.first_id,
        "last_id": digest.last_id,
        "sha256": digest.sha.hexdigest(),
        "prev": prev,
    }
    if key_id is not None:
        body["key_id"] = key_id
    return body


def _canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(body: dict) -> str:
    """HMAC of the body with the key its `key_id` names (none: the legacy key)."""
    key = _key(body.get("key_id"), day=body.get("day"))
    return hmac.new(key, _canonical(body), hashlib.sha256).hexdigest()


def _manifest_bytes(body: dict) -> bytes:
    return _canonical({**body, "hmac": sign(body)}) + b"\n"


def read_manifest(day: date) -> dict | None:
    try:
        return json.loads(manifest_path(day).read_bytes())
    except FileNotFoundError:
        return None


# --- writing -----------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_in(directory: Path, name: str):
    return tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by the caller
        mode="wb", dir=directory, prefix=f".{name}.", suffix=".tmp", delete=False
    )


def _publish(tmp_name: str, final: Path) -> None:
    os.chmod(tmp_name, 0o440)
    os.replace(tmp_name, final)


def _prev_link(day: date, earlier: list[date]) -> str:
    previous = read_manifest(day - timedelta(days=1))
    if previous is not None:
        return previous["hmac"]
    start, _ = day_bounds(day)
    if not earlier and not AuditLog.objects.filter(created_at__lt=start).exists():
        return GENESIS
    raise ChainGap(f"{day - timedelta(days=1)} is not shipped; ship it first")


def ship_day(day: date, *, now: datetime | None = None) -> ShipResult:
    """Ship one closed day (the previous one must be shipped, unless this is the
    first). Already shipped: recompute, compare, skip (ShipMismatch if the
    bytes would differ)."""
    if day > last_closed_day(now):
        raise ShipError(f"{day} is not over yet in Asia/Shanghai")
    directory = ship_dir()
    directory.mkdir(parents=True, exist_ok=True)
    existing = read_manifest(day)
    prev = _prev_link(day, [d for d in shipped_days() if d < day])
    final = data_path(day)

    if existing is not None:
        digest = _write_day(day, None)
        # Recomputed with the key that signed it (an older one after a rotation).
        key_id = existing.get("key_id")
        expected = _manifest_bytes(manifest_body(day, digest, prev, key_id))
        on_disk = manifest_path(day).read_bytes()
        data_ok = final.exists() and _file_sha(final) == digest.sha.hexdigest()
        if on_disk != expected or not data_ok:
            raise ShipMismatch(
                f"{day}: the shipped files differ from the audit rows "
                "(run `manage.py audit_ship --verify`)"
            )
        return ShipResult(day=day, rows=digest.rows, written=False)

    key_id = signing_key_id()  # before writing: no key, no files
    tmp = _temp_in(directory, final.name)
    try:
        with tmp:
            digest = _write_day(day, tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        _publish(tmp.name, final)
    except BaseException:
        Path(tmp.name).unlink(missing_ok=True)
        raise
    body = manifest_body(day, digest, prev, key_id)
    tmp = _temp_in(directory, manifest_path(day).name)
    try:
        with tmp:
            tmp.write(_manifest_bytes(body))
            tmp.flush()
            os.fsync(tmp.fileno())
        _publish(tmp.name, manifest_path(day))
    except BaseException:
        Path(tmp.name).unlink(missing_ok=True)
        raise
    _fsync_dir(directory)
    log.info("audit log shipped", extra={"day": day.isoformat(), "rows": digest.rows})
    return ShipResult(day=day, rows=digest.rows, written=True)


def days_to_ship(through: date) -> list[date]:
    """The days `ship_through(through)` handles: every day after the newest
    manifest up to `through` (first run: from the oldest audit row's day), or
    just `through` when it is already shipped (verified and skipped)."""
    shipped = shipped_days()
    if shipped and shipped[-1] >= through:
        return [through]
    if shipped:
        start = shipped[-1] + timedelta(days=1)
    else:
        oldest = AuditLog.objects.order_by("created_at").values_list(
            "created_at", flat=True
        )[:1]
        start = min(shanghai_day(oldest[0]), through) if oldest else through
    return [start + timedelta(days=n) for n in range((through - start).days + 1)]


def ship_through(through: date | None = None, *, now=None) -> list[ShipResult]:
    """Ship every missing day up to `through` (default: yesterday), in order;
    then re-check the newest day shipped before them (the previous run's) and
    raise `ShipLateRows` if the database now has rows of it the copy lacks."""
    through = through or last_closed_day(now)
    days = days_to_ship(through)
    recheck = max((d for d in shipped_days() if d < days[0]), default=None)
    results = [ship_day(day, now=now) for day in days]
    if recheck is not None:
        try:
            recheck_shipped_day(recheck)
        except ShipLateRows as exc:
            exc.results = results  # shipped all the same (the command lists them)
            raise
    return results


def recheck_shipped_day(day: date) -> None:
    """Compare a shipped day with the database again. If they differ, report it:
    an error log line and one `audit_ship_late_rows` audit row (ids of the rows
    the copy lacks, at most 100, and counts; not written twice for the same
    finding), then raise `ShipLateRows`. The files are never rewritten."""
    from members.audit import audit_record

    manifest = read_manifest(day)
    digest = _write_day(day, None)
    if manifest is not None and (digest.sha.hexdigest(), digest.rows) == (
        manifest.get("sha256"),
        manifest.get("rows"),
    ):
        return
    start, end = day_bounds(day)
    in_database = set(
        AuditLog.objects.filter(created_at__gte=start, created_at__lt=end).values_list(
            "pk", flat=True
        )
    )
    late = sorted(in_database - set(_shipped_ids(day)))
    detail = {
        "day": day.isoformat(),
        "late_count": len(late),
        "late_ids": late[:100],
        "shipped_rows": manifest.get("rows") if manifest else None,
        "database_rows": digest.rows,
    }
    log.error("audit rows missing from the shipped copy", extra=detail)
    already = AuditLog.objects.filter(
        action=LATE_ROWS_ACTION,
        object_id=day.isoformat(),
        detail__late_count=len(late),
        detail__database_rows=digest.rows,
    )
    if not already.exists():
        audit_record(
            action=LATE_ROWS_ACTION,
            object_type="audit_ship_day",
            object_id=day.isoformat(),
            outcome=AuditLog.Outcome.FAILURE,
            detail=detail,
        )
    raise ShipLateRows(
        f"{day}: the database has {digest.rows} row(s), the shipped copy "
        f"{detail['shipped_rows']}; {len(late)} row(s) not in the copy "
        f"(ids {late[:20]}); recorded as {LATE_ROWS_ACTION} "
        "(run `manage.py audit_ship --verify`)"
    )


def _shipped_ids(day: date) -> list[int]:
    """Ids in the day's shipped file (unreadable lines are skipped)."""
    ids = []
    try:
        with data_path(day).open("rb") as handle:
            for line in handle:
                try:
                    ids.append(int(json.loads(line)["id"]))
                except (ValueError, KeyError, TypeError):
                    continue
    except FileNotFoundError:
        pass
    return ids


# --- verifying ---------------------------------------------------------------------


def _file_sha(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def verify_day(day: date, *, against_database: bool = True) -> DayCheck:
    """Check one shipped day: manifest signature, file digest and line count,
    the link to the previous day, and (by default) that the database still
    gives the same content."""
    check = DayCheck(day=day)
    manifest = read_manifest(day)
    if manifest is None:
        check.problems.append("manifest missing")
        return check
    body = {k: v for k, v in manifest.items() if k != "hmac"}
    try:
        signature = sign(body)
    except RetiredShipKey as exc:
        check.problems.append(f"manifest signature invalid: {exc}")
    except UnknownShipKey as exc:
        check.problems.append(f"signature not checked: {exc}")
    else:
        if not hmac.compare_digest(str(manifest.get("hmac", "")), signature):
            check.problems.append("manifest signature invalid")
    path = data_path(day)
    if not path.exists():
        check.problems.append("data file missing")
    else:
        if _file_sha(path) != manifest.get("sha256"):
            check.problems.append("data file digest differs from manifest")
        if _count_lines(path) != manifest.get("rows"):
            check.problems.append("row count differs from manifest")
    previous = read_manifest(day - timedelta(days=1))
    if previous is not None:
        if manifest.get("prev") != previous.get("hmac"):
            check.problems.append("chain broken: prev is not the previous day's hmac")
    elif manifest.get("prev") != GENESIS:
        check.problems.append("chain broken: previous day missing")
    elif any(d < day for d in shipped_days()):
        check.problems.append("chain broken: genesis after earlier days")
    if against_database:
        digest = _write_day(day, None)
        if digest.sha.hexdigest() != manifest.get(
            "sha256"
        ) or digest.rows != manifest.get("rows"):
            check.problems.append("database rows differ from the shipped file")
    return check


def verify_range(first: date, last: date, **kwargs) -> list[DayCheck]:
    return [
        verify_day(first + timedelta(days=n), **kwargs)
        for n in range((last - first).days + 1)
    ]
