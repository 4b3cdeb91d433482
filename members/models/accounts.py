from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

from portal.crypto import EncryptedTextField, blind_index
from portal.masking import mask_phone

PHONE_INDEX = "phone"


class User(AbstractUser):
    """Workers log in by phone (stored encrypted, found by its blind index); staff
    log in by username and belong to one union organisation, which scopes what
    they see in the admin."""

    phone = EncryptedTextField("手机号", purpose="user.phone", blank=True, default="")
    phone_hmac = models.CharField(
        max_length=64, null=True, blank=True, unique=True, editable=False
    )
    phone_verified_at = models.DateTimeField("手机验证时间", null=True, blank=True)
    org = models.ForeignKey(
        "members.UnionOrg",
        verbose_name="所属工会组织",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
        help_text="工作人员只能看到本组织及下级组织的数据。",
    )

    class Meta(AbstractUser.Meta):
        verbose_name = "用户"
        verbose_name_plural = "用户"
        permissions = [
            ("view_sensitive", "可查看完整敏感个人信息(留痕)"),
            ("view_auditlog_all", "可查看审计日志"),
        ]

    def set_phone(self, normalized_phone: str) -> None:
        """Set the phone and its blind index together; pass a normalised number."""
        self.phone = normalized_phone
        self.phone_hmac = blind_index(normalized_phone, purpose=PHONE_INDEX) or None

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)
