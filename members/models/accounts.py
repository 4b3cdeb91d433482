from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.crypto import salted_hmac

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
    # Raised when a sign-in factor other than the password changes (the phone):
    # mixed into the session auth hash, it ends every session and trusted-device
    # cookie stamped before, as a new password does (security.md SE4, ASVS 7.4.3).
    session_epoch = models.PositiveIntegerField("会话代次", default=0, editable=False)
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

    def _get_session_auth_hash(self, secret=None):
        """Django's HMAC of the password hash, and of session_epoch once it is
        above 0 (at 0 the value is Django's own, so existing sessions and
        trusted-device cookies survive the upgrade). Django's fallback-key check
        goes through this method too."""
        base = super()._get_session_auth_hash(secret=secret)
        if not self.session_epoch:
            return base
        return salted_hmac(
            "members.User.session_epoch",
            f"{base}:{self.session_epoch}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def set_phone(self, normalized_phone: str) -> None:
        """Set the phone and its blind index together; pass a normalised number."""
        self.phone = normalized_phone
        self.phone_hmac = blind_index(normalized_phone, purpose=PHONE_INDEX) or None

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)
