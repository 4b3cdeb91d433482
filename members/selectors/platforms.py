from __future__ import annotations

import secrets

from django.utils import timezone

from members.actions.platforms import KEY_PREFIX, platform_key_hash
from members.models import Platform, PlatformApiKey


def platform_for_api_key(*, raw_key: str) -> Platform | None:
    """The active platform a presented key belongs to, or None when the key is
    unknown, wrong, expired or revoked (the caller answers 401)."""
    raw_key = (raw_key or "").strip()
    if not raw_key.startswith(KEY_PREFIX) or len(raw_key) > 200:
        return None
    prefix = raw_key[len(KEY_PREFIX) :].partition("_")[0]
    key = (
        PlatformApiKey.objects.select_related("platform")
        .filter(
            prefix=prefix,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
            platform__is_active=True,
        )
        .first()
    )
    if key is None or not secrets.compare_digest(
        key.key_hash, platform_key_hash(raw_key)
    ):
        return None
    return key.platform
