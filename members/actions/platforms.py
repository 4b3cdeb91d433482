"""Platform companies and their API keys (issue #3)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from members.audit import audit_record
from members.models import Platform, PlatformApiKey, User

KEY_PREFIX = "pk_"  # noqa: S105 - the visible start of every key, not a secret
DEFAULT_KEY_LIFETIME = timedelta(days=365)


def platform_key_hash(raw_key: str) -> str:
    # Keys carry 256 random bits, so a fast unsalted hash is enough: there is
    # nothing to brute-force, unlike a password.
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def platform_get_or_create(*, code: str, name: str = "") -> Platform:
    platform = Platform.objects.filter(code=code).first()
    if platform is not None:
        return platform
    platform = Platform(code=code, name=name or code)
    platform.full_clean()
    platform.save()
    audit_record(action="platform_create", object_type="platform", object_id=code)
    return platform


@transaction.atomic
def platform_key_issue(
    *,
    platform: Platform,
    name: str = "",
    lifetime: timedelta = DEFAULT_KEY_LIFETIME,
    actor: User | None = None,
) -> tuple[PlatformApiKey, str]:
    """Create a key and return it with its plaintext, which is never stored."""
    prefix = secrets.token_hex(6)
    raw_key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = PlatformApiKey(
        platform=platform,
        name=name,
        prefix=prefix,
        key_hash=platform_key_hash(raw_key),
        expires_at=timezone.now() + lifetime,
    )
    key.full_clean(exclude=["prefix", "key_hash"])
    key.save()
    audit_record(
        action="platform_key_issue",
        actor=actor,
        object_type="platform_api_key",
        object_id=key.pk,
        detail={"platform": platform.code, "prefix": prefix},
    )
    return key, raw_key


@transaction.atomic
def platform_key_revoke(*, key: PlatformApiKey, actor: User | None) -> bool:
    """Revoke once (conditional UPDATE); returns False if already revoked."""
    revoked = PlatformApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if revoked:
        audit_record(
            action="platform_key_revoke",
            actor=actor,
            object_type="platform_api_key",
            object_id=key.pk,
            detail={"platform_id": key.platform_id, "prefix": key.prefix},
        )
    return bool(revoked)
