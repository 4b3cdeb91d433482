"""Issuing and revoking platform API keys (security.md AP1, LG1)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from members.audit import audit_record
from members.models import Platform, PlatformApiKey, User
from members.models.api_keys import MAX_KEY_LIFETIME

KEY_SEPARATOR = "."
PREFIX_LENGTH = 12


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
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
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
