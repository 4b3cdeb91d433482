"""Protection programs (深工守护: E路守护, 家政守护, 建工守护, 环卫守护) and who is
enrolled in them. Eligibility rules are data attached to a program (see
services/models/eligibility.py once it exists); domain.md §2 BR-P1..P7."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class EnrollmentMode(models.TextChoices):
    NAMED = "named", "实名参保(本人或平台报名)"
    ANONYMOUS = "anonymous", "无记名(符合条件即保障,理赔时核验)"


class BenefitKind(models.TextChoices):
    LUMP_SUM = "lump_sum", "一次性给付"
    PER_DAY = "per_day", "按日给付"


class Program(models.Model):
    code = models.SlugField("计划代码", max_length=40, unique=True)
    name = models.CharField("名称", max_length=100)
    description = models.TextField("简介", blank=True)
    sponsor_org = models.ForeignKey(
        "members.UnionOrg",
        verbose_name="主办工会",
        on_delete=models.PROTECT,
        related_name="programs",
    )
    region_prefix = models.CharField(
        "适用地区(区划代码前缀)",
        max_length=6,
        default="4403",
        help_text="例如 4403 为深圳市;按常住地区划代码匹配。",
    )
    enrollment_mode = models.CharField(
        "参保方式", max_length=10, choices=EnrollmentMode.choices
    )
    starts_on = models.DateField("开始日期")
    ends_on = models.DateField("结束日期", null=True, blank=True)
    is_active = models.BooleanField("启用", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "保障计划"
        verbose_name_plural = "保障计划"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class BenefitItem(models.Model):
    """BR-P4: payout = amount (lump sum) or min(days, max_days) x daily_rate,
    limited by yearly_cap per member."""

    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="benefit_items"
    )
    name = models.CharField("保障项目", max_length=100)
    kind = models.CharField("给付方式", max_length=10, choices=BenefitKind.choices)
    amount = models.DecimalField(
        "给付金额(元)", max_digits=10, decimal_places=2, null=True, blank=True
    )
    daily_rate = models.DecimalField(
        "每日金额(元)", max_digits=8, decimal_places=2, null=True, blank=True
    )
    max_days = models.PositiveIntegerField("最多天数", null=True, blank=True)
    yearly_cap = models.DecimalField(
        "每人每年上限(元)", max_digits=10, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = "保障项目"
        verbose_name_plural = "保障项目"
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="lump_sum", amount__isnull=False)
                    | Q(
                        kind="per_day",
                        daily_rate__isnull=False,
                        max_days__isnull=False,
                    )
                ),
                name="benefititem_amounts_match_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", "保障中"
    LAPSED = "lapsed", "已失效(不再符合条件)"
    ENDED = "ended", "已到期"
    WITHDRAWN = "withdrawn", "已退出"


class EnrollmentSource(models.TextChoices):
    SELF = "self", "本人报名"
    PLATFORM = "platform", "平台报名"
    RENEWAL = "renewal", "自动续保"
    STAFF = "staff", "工作人员登记"


class Enrollment(models.Model):
    """A member covered by a program for one coverage period.

    Unique per (member, program, period_start) in the database, so a platform
    batch, a re-run or two clicks cannot enroll anyone twice for a period.
    """

    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="enrollments"
    )
    program = models.ForeignKey(
        Program, on_delete=models.PROTECT, related_name="enrollments"
    )
    period_start = models.DateField("保障开始")
    period_end = models.DateField("保障结束")
    status = models.CharField(
        "状态",
        max_length=10,
        choices=EnrollmentStatus.choices,
        default=EnrollmentStatus.ACTIVE,
        db_index=True,
    )
    status_reason = models.CharField("状态原因", max_length=300, blank=True)
    source = models.CharField("来源", max_length=10, choices=EnrollmentSource.choices)
    platform = models.ForeignKey(
        "members.Platform",
        verbose_name="报名平台",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="enrollments",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "参保记录"
        verbose_name_plural = "参保记录"
        ordering = ["-period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "program", "period_start"],
                name="enrollment_unique_member_program_period",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="enrollment_period_ordered",
            ),
        ]
        indexes = [models.Index(fields=["program", "status"])]

    def __str__(self) -> str:
        return f"{self.program} · {self.period_start:%Y}"
