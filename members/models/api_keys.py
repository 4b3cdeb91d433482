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
    hashed_secret = models.CharField("密钥摘要", max_length=64, editable=False)
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


class PlatformApiUsage(models.Model):
    """Requests per key, endpoint, method and minute (security.md LG1 "API key
    use"). One upserted row per bucket instead of one row per request: the first
    request of a bucket also writes an `AuditLog` row (`platform_key_use`), so the
    audit table grows by at most one row per key, endpoint and minute for reads;
    writes and rider look-ups get their own audit row per request (docs/api.md).
    Calls refused by the platform's IP allow-list (security.md AP2) count in
    `refused` too; the first refusal of a bucket writes one `platform_ip_refused`
    audit row, so a flood from outside the list adds at most one audit row per
    key, endpoint, method and minute."""

    key = models.ForeignKey(
        PlatformApiKey,
        verbose_name="接口密钥",
        on_delete=models.CASCADE,
        related_name="usage",
    )
    endpoint = models.CharField("接口", max_length=80)
    method = models.CharField("方法", max_length=8)
    minute = models.DateTimeField("分钟")
    requests = models.PositiveIntegerField("请求数", default=0)
    errors = models.PositiveIntegerField("出错数(≥400)", default=0)
    refused = models.PositiveIntegerField(
        "IP拒绝数", default=0, help_text="来自白名单以外IP的调用(403),也计入出错数"
    )

    class Meta:
        verbose_name = "平台接口调用统计"
        verbose_name_plural = "平台接口调用统计"
        ordering = ["-minute"]
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(
                fields=["key", "endpoint", "method", "minute"],
                name="platformapiusage_one_row_per_bucket",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key_id} {self.method} {self.endpoint} {self.minute:%H:%M}"
