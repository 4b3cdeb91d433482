from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from portal.crypto import EncryptedTextField


class NotificationChannel(models.TextChoices):
    INBOX = "inbox", "站内信"
    SMS = "sms", "短信"
    EMAIL = "email", "邮件"


class NotificationCategory(models.TextChoices):
    """Reminders respect quiet hours and opt-out; legal notices respect neither."""

    REMINDER = "reminder", "提醒"
    SERVICE = "service", "业务通知"
    LEGAL = "legal", "法定告知"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "待发送"
    SENDING = "sending", "发送中"
    SENT = "sent", "已发送"
    SKIPPED = "skipped", "未发送(已退订)"
    DEAD = "dead", "发送失败"


class Notification(models.Model):
    """The outbox: one row per recipient, message and channel.

    Written in the same transaction as the event that causes it; a dispatcher
    delivers due rows. `dedupe_key` is unique in the database, so enqueuing the
    same notice twice (a re-run, a duplicate task) stores it once. `params` holds
    template parameters only, never raw personal data: the sender reads the phone
    or e-mail from the recipient at send time, unless `to_phone` names another
    number (encrypted like every phone).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="接收账号",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    member = models.ForeignKey(
        "members.Member",
        verbose_name="接收会员",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    channel = models.CharField(
        "渠道", max_length=10, choices=NotificationChannel.choices
    )
    category = models.CharField(
        "类别",
        max_length=10,
        choices=NotificationCategory.choices,
        default=NotificationCategory.SERVICE,
    )
    template_code = models.CharField("模板", max_length=60)
    # A number that is not the recipient's own (the old number told of a phone
    # change, which the account no longer holds). No blind index: nothing looks a
    # notice up by it. db_default: the set-based INSERT ... SELECT fan-outs
    # (programs, platform batches) do not name the column.
    to_phone = EncryptedTextField(
        "指定接收号码",
        purpose="notification.to_phone",
        blank=True,
        default="",
        db_default="",
        editable=False,
    )
    params = models.JSONField("模板参数", default=dict, blank=True)
    # Unique through Meta.constraints (no extra LIKE-pattern index on PostgreSQL:
    # every index costs on each status change of 100k-row dispatches).
    dedupe_key = models.CharField("去重键", max_length=200)
    due_at = models.DateTimeField("计划发送时间")
    status = models.CharField(
        "状态",
        max_length=10,
        choices=NotificationStatus.choices,
        default=NotificationStatus.PENDING,
    )
    attempts = models.PositiveSmallIntegerField("尝试次数", default=0)
    claimed_at = models.DateTimeField("领取时间", null=True, blank=True)
    # Set by the dispatcher's claim; every later write checks it, so a stale task
    # (duplicate delivery, a row the sweeper already took back) changes nothing.
    claim_token = models.UUIDField("领取令牌", null=True, blank=True, editable=False)
    # The ledger mark, committed *before* the gateway call: a row that is `sending`
    # with this set may or may not have reached the gateway (see the sweeper).
    gateway_started_at = models.DateTimeField(
        "网关调用开始", null=True, blank=True, editable=False
    )
    sent_at = models.DateTimeField("发送时间", null=True, blank=True)
    last_error = models.CharField("最近错误", max_length=300, blank=True)
    read_at = models.DateTimeField("阅读时间", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "通知"
        verbose_name_plural = "通知"
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["due_at"],
                name="notification_due_pending",
                condition=Q(status="pending"),
            ),
            models.Index(
                fields=["user", "read_at"],
                name="notification_inbox",
                condition=Q(channel="inbox"),
            ),
            models.Index(
                fields=["claimed_at"],
                name="notification_sending",
                condition=Q(status="sending"),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"], name="notification_unique_dedupe_key"
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False) | Q(member__isnull=False),
                name="notification_has_recipient",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template_code} → {self.channel}"

    @property
    def out_id(self) -> str:
        """The idempotency/correlation id handed to the gateway (Aliyun `OutId`)."""
        return f"notification-{self.pk}"
