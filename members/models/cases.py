"""Case assignment: which staff member works on which member's case
(security.md AC5: a full-value reveal needs `view_sensitive` **and** an active
assignment of the reviewer to that member)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class CaseAssignment(models.Model):
    """One staff member assigned to one member's case, by a supervisor with
    `members.assign_case`. Ending an assignment sets `ended_at`; the row stays.
    At most one active (not ended) assignment per (staff, member): a partial
    unique constraint, so two concurrent assigns leave one row."""

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="审核员",
        on_delete=models.CASCADE,
        related_name="case_assignments",
    )
    member = models.ForeignKey(
        "members.Member",
        verbose_name="会员",
        on_delete=models.CASCADE,
        related_name="case_assignments",
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="分配人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    assigned_at = models.DateTimeField("分配时间", default=timezone.now)
    reason = models.CharField("分配事由", max_length=200, blank=True)
    ended_at = models.DateTimeField("结束时间", null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="结束人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = "个案分配"
        verbose_name_plural = "个案分配"
        ordering = ["-assigned_at"]
        permissions = [("assign_case", "可分配个案给审核员")]
        constraints = [
            models.UniqueConstraint(
                fields=["staff", "member"],
                condition=Q(ended_at__isnull=True),
                name="caseassignment_one_active_per_staff_member",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.staff} → {self.member}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None
