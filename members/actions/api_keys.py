"""Issuing and revoking platform API keys (security.md AP1, LG1)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from members.audit import audit_record
from members.ip_allowlist import normalize_networks
from members.models import Member, Platform, PlatformApiKey, PlatformApiUsage, User
from members.models.api_keys import MAX_KEY_LIFETIME
from portal.request_context import current

logger = logging.getLogger(__name__)

KEY_SEPARATOR = "."
PREFIX_LENGTH = 12
_DIGIT_RUN = re.compile(r"\d{11}")


def new_key_prefix() -> str:
    """A random public key label (hex) with no run of 11 digits: such a run
    could read as a mobile number, and log masking (portal.logging) would hide
    the label the operators look for."""
    while True:
        prefix = secrets.token_hex(PREFIX_LENGTH // 2)
        if not _DIGIT_RUN.search(prefix):
            return prefix


def _pepper() -> bytes:
    # A dedicated pepper may be set; otherwise derive one from SECRET_KEY so a
    # database dump alone never lets anyone verify a guessed secret.
    raw = getattr(settings, "PLATFORM_KEY_PEPPER", "") or settings.SECRET_KEY
    return hashlib.sha256(b"portal-platform-key\x00" + raw.encode()).digest()


def hash_secret(secret: str) -> str:
    return hmac.new(_pepper(), secret.encode(), hashlib.sha256).hexdigest()


def secret_matches(*, key: PlatformApiKey, secret: str) -> bool:
    return hmac.compare_digest(key.hashed_secret, hash_secret(secret))


@dataclass(frozen=True)
class IssuedKey:
    key: PlatformApiKey
    plaintext: str


@transaction.atomic
def platform_key_issue(
    *,
    platform_code: str,
    name: str = "",
    lifetime: timedelta = MAX_KEY_LIFETIME,
    actor: User | None = None,
) -> IssuedKey:
    """Create the platform if it does not exist yet and issue a new key for it.
    The plaintext is returned once and never stored."""
    if lifetime > MAX_KEY_LIFETIME or lifetime <= timedelta(0):
        raise ValidationError("密钥有效期须在1年以内。", code="invalid_lifetime")
    platform, _ = Platform.objects.get_or_create(
        code=platform_code, defaults={"name": platform_code}
    )
    platform.full_clean()
    prefix = new_key_prefix()
    secret = secrets.token_urlsafe(32)
    now = timezone.now()
    key = PlatformApiKey(
        platform=platform,
        name=name,
        prefix=prefix,
        hashed_secret=hash_secret(secret),
        expires_at=now + lifetime,
    )
    key.full_clean(exclude=["prefix", "hashed_secret"])
    key.save()
    audit_record(
        action="platform_key_issue",
        actor=actor,
        object_type="platform_api_key",
        object_id=key.pk,
        detail={"platform": platform.code, "prefix": prefix},
    )
    return IssuedKey(key=key, plaintext=f"{prefix}{KEY_SEPARATOR}{secret}")


@transaction.atomic
def platform_key_revoke(*, key: PlatformApiKey, actor: User | None = None) -> bool:
    """Revoke a key; revoking twice changes nothing and returns False."""
    updated = PlatformApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if updated:
        audit_record(
            action="platform_key_revoke",
            actor=actor,
            object_type="platform_api_key",
            object_id=key.pk,
            detail={"platform_id": key.platform_id, "prefix": key.prefix},
        )
    return bool(updated)


def platform_key_touch(*, key: PlatformApiKey, now: datetime) -> None:
    """Record use at most once a minute (a conditional UPDATE, no write storm)."""
    PlatformApiKey.objects.filter(pk=key.pk).exclude(
        last_used_at__gt=now - timedelta(minutes=1)
    ).update(last_used_at=now)


# Methods get their own usage bucket; anything else (DRF authenticates before it
# answers 405) is counted as OTHER, so made-up methods cannot multiply buckets
# and their audit rows.
BUCKET_METHODS = frozenset(
    {"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE"}
)


def bucket_method(method: str) -> str:
    method = (method or "").upper()
    return method if method in BUCKET_METHODS else "OTHER"


def _usage_bump(
    *,
    key: PlatformApiKey,
    endpoint: str,
    method: str,
    minute: datetime,
    failed: int,
    refused: int = 0,
) -> tuple[bool, int]:
    """Count one request in its (key, endpoint, method, minute) bucket. Returns
    (True when this request opened the bucket, the bucket's `refused` count after
    it). One statement on PostgreSQL (upsert; `xmax = 0` is true only for a
    freshly inserted row), two elsewhere."""
    table = PlatformApiUsage._meta.db_table
    params = [key.pk, endpoint, method, minute, failed, refused]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""
                INSERT INTO {table} AS u (key_id, endpoint, method, minute, requests,
                                          errors, refused)
                VALUES (%s, %s, %s, %s, 1, %s, %s)
                ON CONFLICT (key_id, endpoint, method, minute) DO UPDATE
                   SET requests = u.requests + 1, errors = u.errors + EXCLUDED.errors,
                       refused = u.refused + EXCLUDED.refused
                RETURNING (xmax = 0), refused
                """,  # noqa: S608 - the table name comes from model metadata
                params,
            )
            opened, refused_total = cursor.fetchone()
            return bool(opened), int(refused_total)
        cursor.execute(
            f"""
            INSERT INTO {table} (key_id, endpoint, method, minute, requests, errors,
                                 refused)
            VALUES (%s, %s, %s, %s, 1, %s, %s)
            ON CONFLICT (key_id, endpoint, method, minute) DO NOTHING
            RETURNING refused
            """,  # noqa: S608
            params,
        )
        row = cursor.fetchone()
        if row is not None:
            return True, int(row[0])
        cursor.execute(
            f"""
            UPDATE {table} SET requests = requests + 1, errors = errors + %s,
                               refused = refused + %s
             WHERE key_id = %s AND endpoint = %s AND method = %s AND minute = %s
            RETURNING refused
            """,  # noqa: S608
            [failed, refused, key.pk, endpoint, method, minute],
        )
        return False, int(cursor.fetchone()[0])


@transaction.atomic
def platform_key_use_record(
    *,
    key: PlatformApiKey,
    endpoint: str,
    method: str,
    status_code: int,
    now: datetime | None = None,
    member: Member | None = None,
    object_type: str = "",
    object_id: object = "",
) -> None:
    """Record one authenticated platform API request (security.md LG1).

    - every request: +1 in its per-minute usage bucket (errors counted apart);
      the request that opens a bucket writes one `platform_key_use` audit row;
    - every write (not GET/HEAD/OPTIONS): one `platform_api_write` audit row with
      the status code (rejected writes included);
    - every read of a person (`member` given): one `platform_rider_read` audit row
      naming the member, so "who saw this person's data" has an answer.
    """
    now = now or timezone.now()
    minute = now.replace(second=0, microsecond=0)
    method = bucket_method(method)
    endpoint = endpoint[:80]
    failed = 1 if status_code >= 400 else 0
    opened, _ = _usage_bump(
        key=key, endpoint=endpoint, method=method, minute=minute, failed=failed
    )
    write = method not in ("GET", "HEAD", "OPTIONS")
    person_read = member is not None and not failed and not write
    if not (opened or write or person_read) and connection.vendor == "postgresql":
        # Only a counter moved: a crash may lose it, so skip the WAL flush
        # wait (audit rows, when written, commit durably as usual).
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
    base = {"platform_id": key.platform_id, "prefix": key.prefix}
    if opened:
        audit_record(
            role="platform",
            action="platform_key_use",
            object_type="platform_api_key",
            object_id=key.pk,
            outcome="success" if not failed else "failure",
            detail={
                **base,
                "endpoint": endpoint,
                "method": method,
                "minute": minute.isoformat(),
                "status": status_code,
            },
        )
    if write:
        audit_record(
            role="platform",
            action="platform_api_write",
            object_type=object_type or "platform_api_key",
            object_id=object_id or key.pk,
            outcome="success" if not failed else "failure",
            detail={
                **base,
                "endpoint": endpoint,
                "method": method,
                "status": status_code,
            },
        )
    elif person_read:
        audit_record(
            role="platform",
            action="platform_rider_read",
            member=member,
            object_type=object_type or "member",
            object_id=object_id or member.pk,
            detail={**base, "endpoint": endpoint},
        )


@transaction.atomic
def platform_ip_refusal_record(
    *,
    key: PlatformApiKey,
    endpoint: str,
    method: str,
    reason: str,
    now: datetime | None = None,
) -> bool:
    """Record one call refused by the platform's IP allow-list (security.md AP2,
    LG1 "authorisation denials"): +1 requests, errors and refused in the call's
    usage bucket; the first refusal of the bucket writes one `platform_ip_refused`
    audit row (outcome denied; the client IP and request id come from the request
    context), later ones in the same minute are only counted, so a flood adds at
    most one audit row per key, endpoint, method and minute. Returns True when an
    audit row was written."""
    now = now or timezone.now()
    minute = now.replace(second=0, microsecond=0)
    method = bucket_method(method)
    endpoint = endpoint[:80]
    _, refused = _usage_bump(
        key=key, endpoint=endpoint, method=method, minute=minute, failed=1, refused=1
    )
    if refused != 1:
        return False
    audit_record(
        role="platform",
        action="platform_ip_refused",
        object_type="platform_api_key",
        object_id=key.pk,
        outcome="denied",
        reason=reason,
        detail={
            "platform_id": key.platform_id,
            "prefix": key.prefix,
            "endpoint": endpoint,
            "method": method,
            "minute": minute.isoformat(),
            "status": 403,
        },
    )
    return True


class AuthRefusal:
    """Why a platform call got 401 (the `reason` of `platform_auth_refused`)."""

    MISSING = "missing"  # no Bearer credentials at all
    KEY_IN_QUERY = "key_in_query"
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"  # no key has this prefix
    MISMATCH = "secret_mismatch"  # a real key's prefix, another secret
    REVOKED = "revoked"
    EXPIRED = "expired"
    PLATFORM_INACTIVE = "platform_inactive"


def platform_auth_refusal_record(
    *,
    reason: str,
    endpoint: str,
    method: str,
    key: PlatformApiKey | None = None,
    now: datetime | None = None,
) -> bool:
    """Record a platform API call refused for its credentials (401; security.md
    LG1 "authorisation denials"). Every refusal logs one line; the first one per
    minute for the same client IP, reason, key (or none), endpoint and method
    writes one `platform_auth_refused` audit row (outcome denied; client IP and
    request id from the request context), so a flood of bad keys, which no
    throttle stops before authentication, adds at most one row per source and
    minute. The credentials themselves are never recorded: only the prefix, and
    only when it names a real key. Returns True when an audit row was written.

    Uses the cache (Redis) to tell the first refusal of a minute; without it
    every refusal is written (a denial is never lost)."""
    from redis.exceptions import RedisError

    now = now or timezone.now()
    minute = now.replace(second=0, microsecond=0)
    method = bucket_method(method)
    endpoint = endpoint[:80]
    ctx = current()
    ip = (ctx.ip if ctx else None) or ""
    logger.warning(
        "platform api: credentials refused (%s) key=%s endpoint=%s",
        reason,
        key.prefix if key else "-",
        endpoint,
    )
    marker = ":".join(
        (
            "platform-auth-refused",
            f"{minute:%Y%m%d%H%M}",
            reason,
            str(key.pk if key else ""),
            ip,
            endpoint,
            method,
        )
    )
    try:
        first = cache.add(marker, 1, timeout=120)
    except (RedisError, OSError):
        first = True
    if not first:
        return False
    detail: dict = {"endpoint": endpoint, "method": method, "status": 401}
    if key is not None:
        detail.update(platform_id=key.platform_id, prefix=key.prefix)
    with transaction.atomic():
        audit_record(
            role="platform" if key is not None else "anonymous",
            action="platform_auth_refused",
            object_type="platform_api_key" if key is not None else "",
            object_id=key.pk if key is not None else "",
            outcome="denied",
            reason=reason,
            detail={**detail, "minute": minute.isoformat()},
        )
    return True


@transaction.atomic
def platform_access_denied_record(
    *,
    key: PlatformApiKey,
    endpoint: str,
    method: str,
    object_type: str,
    object_id: object,
    owner_platform_id: int,
) -> None:
    """A platform asked for an object of another platform (security.md LG1,
    AC3): it got the same 404 as for an id that does not exist; the union's
    audit log gets one `platform_access_denied` row per call (calls are
    authenticated and throttled per key, so their number is bounded)."""
    audit_record(
        role="platform",
        action="platform_access_denied",
        object_type=object_type,
        object_id=object_id,
        outcome="denied",
        reason="other_platform",
        detail={
            "platform_id": key.platform_id,
            "prefix": key.prefix,
            "owner_platform_id": owner_platform_id,
            "endpoint": endpoint[:80],
            "method": bucket_method(method),
            "status": 404,
        },
    )


@transaction.atomic
def platform_networks_set(
    *, platform: Platform, networks: list[str], actor: User | None = None
) -> list[str]:
    """Replace a platform's IP allow-list (security.md AP2) with `networks`
    (validated and normalised: a malformed entry or one with host bits set raises
    ValidationError). A change writes one `platform_networks_change` audit row
    with the lists before and after. Returns the stored list."""
    networks = normalize_networks(networks)
    locked = Platform.objects.select_for_update().get(pk=platform.pk)
    before = list(locked.allowed_networks or [])
    if before != networks:
        Platform.objects.filter(pk=platform.pk).update(allowed_networks=networks)
        audit_record(
            action="platform_networks_change",
            actor=actor,
            object_type="platform",
            object_id=platform.pk,
            detail={"platform": platform.code, "before": before, "after": networks},
        )
    platform.allowed_networks = networks
    return networks
