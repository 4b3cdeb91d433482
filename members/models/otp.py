from __future__ import annotations

from django.db import models
from django.utils import timezone


class OtpPurpose(models.TextChoices):
    REGISTER = "register", "注册"
    LOGIN = "login", "登录"
    PHONE_CHANGE = "phone_change", "更换手机号"
    STEP_UP = "step_up", "敏感操作验证"
    PASSWORD_RESET = "password_reset", "找回密码"


class OneTimeCode(models.Model):
    """An SMS one-time code (security.md AU5).

    Bound to one phone (through its blind index) and one purpose. Only a keyed
    hash of the code is stored; `attempts` counts wrong guesses, `used_at` makes
    it single use. Rows also serve as the send log for the hourly send limit.
    """

    phone_hmac = models.CharField(max_length=64, db_index=True)
    purpose = models.CharField("用途", max_length=20, choices=OtpPurpose.choices)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField("发送时间", default=timezone.now, db_index=True)
    expires_at = models.DateTimeField("过期时间")
    attempts = models.PositiveSmallIntegerField("尝试次数", default=0)
    used_at = models.DateTimeField("使用时间", null=True, blank=True)

    class Meta:
        verbose_name = "短信验证码"
        verbose_name_plural = "短信验证码"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["phone_hmac", "purpose", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.created_at:%Y-%m-%d %H:%M}"
