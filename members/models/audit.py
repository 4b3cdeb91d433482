from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditLog(models.Model):
    """Who did or saw what (security.md LG1/LG2, AC5). Append-only: no admin edit,
    no delete; rows hold ids and masked values, never raw personal data.

    Append-only at the database too (LG3): on PostgreSQL a trigger refuses every
    UPDATE, DELETE and TRUNCATE (migration 0010), and the production app role gets
    INSERT/SELECT only (`manage.py db_app_role`). So `actor` and `member` are plain
    ids without a database constraint and nothing happens to a row when that user
    or member is deleted (SET_NULL would be an UPDATE of audit rows): the row keeps
    naming who it was about; `row.actor` / `row.member` is then missing."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", "成功"
        DENIED = "denied", "拒绝"
        FAILURE = "failure", "失败"

    created_at = models.DateTimeField("时间", auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="操作人",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_role = models.CharField("角色", max_length=30, blank=True)
    ip = models.GenericIPAddressField("IP", null=True, blank=True)
    request_id = models.CharField("请求编号", max_length=64, blank=True)
    action = models.CharField("动作", max_length=60, db_index=True)
    object_type = models.CharField("对象类型", max_length=60, blank=True)
    object_id = models.CharField("对象编号", max_length=64, blank=True)
    member = models.ForeignKey(
        "members.Member",
        verbose_name="涉及会员",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    field = models.CharField("字段", max_length=60, blank=True)
    reason = models.CharField("事由", max_length=200, blank=True)
    outcome = models.CharField(
        "结果", max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS
    )
    detail = models.JSONField("详情", default=dict, blank=True)

    class Meta:
        verbose_name = "审计日志"
        verbose_name_plural = "审计日志"
        ordering = ["-created_at"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}"
