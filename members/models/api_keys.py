"""Bearer API keys for gig platforms (security.md AP1).

A key is `<prefix>.<secret>`. Only the prefix (a lookup handle, not a secret) and
an HMAC-SHA256 of the secret under a server-side pepper are stored, so a database
dump holds no usable key. The full key is printed once, when it is issued.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.db.models import Q

MAX_KEY_LIFETIME = timedelta(days=365)


class PlatformApiKey(models.Model):
    platform = models.ForeignKey(
        "members.Platform",
        verbose_name="平台企业",
        on_delete=models.CASCADE,
        related_name="api_keys",
    )
    name = models.CharField("用途说明", max_length=100, blank=True)
    prefix = models.CharField("密钥前缀", max_length=16, unique=True, editable=False)
    hashed_secret = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField("签发时间", auto_now_add=True)
    expires_at = models.DateTimeField("到期时间")
    revoked_at = models.DateTimeField("撤销时间", null=True, blank=True)
    last_used_at = models.DateTimeField("最近使用", null=True, blank=True)

    class Meta:
        verbose_name = "平台接口密钥"
        verbose_name_plural = "平台接口密钥"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="platformapikey_expires_after_creation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform} · {self.prefix}"
