"""Protection programs (深工守护: E路守护, 家政守护, 建工守护, 环卫守护) and who is
enrolled in them. Who qualifies is data: EligibilityRule rows attached to a program,
each with effective dates, evaluated by services/selectors/eligibility.py both for
one person and set-based in SQL; domain.md §2 BR-P1..P7."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models import Occupation


class EnrollmentMode(models.TextChoices):
    NAMED = "named", "实名参保(本人或平台报名)"
    ANONYMOUS = "anonymous", "无记名(符合条件即保障,理赔时核验)"


class BenefitKind(models.TextChoices):
    LUMP_SUM = "lump_sum", "一次性给付"
    PER_DAY = "per_day", "按日给付"


class PeriodRule(models.TextChoices):
    CALENDAR_YEAR = "calendar_year", "自然年(1月1日至12月31日)"
    ROLLING_MONTHS = "rolling_months", "自参保之日起按月数计算"


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
        help_text="例如 4403 为深圳市。用于展示;谁能参加以下方“资格规则”中的"
        "“常住地在指定地区”规则为准。",
    )
    enrollment_mode = models.CharField(
        "参保方式", max_length=10, choices=EnrollmentMode.choices
    )
    starts_on = models.DateField("开始日期")
    ends_on = models.DateField("结束日期", null=True, blank=True)
    is_active = models.BooleanField("启用", default=True)
    period_rule = models.CharField(
        "保障期间规则",
        max_length=20,
        choices=PeriodRule.choices,
        default=PeriodRule.CALENDAR_YEAR,
        help_text="深工守护各计划的保障期间未公开,默认按自然年;可按实际调整。",
    )
    period_months = models.PositiveSmallIntegerField(
        "保障月数",
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="仅在“自参保之日起按月数计算”时使用。默认12个月(配置值)。",
    )
    renewal_lead_days = models.PositiveSmallIntegerField(
        "提前续保天数",
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text="保障期结束前多少天起为仍符合条件的人自动续保(配置值,默认30天)。",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "保障计划"
        verbose_name_plural = "保障计划"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    def period_for(self, on: date) -> tuple[date, date]:
        """The coverage period that a person enrolling on `on` gets; it never
        runs past the program's own end date."""
        if self.period_rule == PeriodRule.CALENDAR_YEAR:
            return date(on.year, 1, 1), self._clamp(date(on.year, 12, 31))
        return on, self._clamp(add_months(on, self.period_months) - timedelta(days=1))

    def next_period(self, *, period_start: date, period_end: date) -> tuple[date, date]:
        """The period following one that ends on `period_end`."""
        start = period_end + timedelta(days=1)
        if self.period_rule == PeriodRule.CALENDAR_YEAR:
            return date(start.year, 1, 1), self._clamp(date(start.year, 12, 31))
        return start, self._clamp(
            add_months(start, self.period_months) - timedelta(days=1)
        )

    def _clamp(self, end: date) -> date:
        return min(end, self.ends_on) if self.ends_on else end

    def is_running_on(self, on: date) -> bool:
        return (
            self.is_active
            and self.starts_on <= on
            and (self.ends_on is None or on <= self.ends_on)
        )


def add_months(day: date, months: int) -> date:
    """Calendar month arithmetic, clamping to the month's last day (Jan 31 + 1
    month = Feb 28/29). Negative `months` go back."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class BenefitItem(models.Model):
    """BR-P4: payout = amount (lump sum) or min(days, max_days) x daily_rate,
    limited by yearly_cap per member."""

    program = models.ForeignKey(
        Program,
        verbose_name="保障计划",
        on_delete=models.CASCADE,
        related_name="benefit_items",
    )
    name = models.CharField("保障项目", max_length=100)
    kind = models.CharField("给付方式", max_length=10, choices=BenefitKind.choices)
    amount = models.DecimalField(
        "给付金额(元)", max_digits=10, decimal_places=2, null=True, blank=True
    )
    daily_rate = models.DecimalField(
        "每日金额(元)", max_digits=8, decimal_places=2, null=True, blank=True
    )
    max_days = models.PositiveIntegerField(
        "最多天数",
        null=True,
        blank=True,
        help_text="每次住院最多给付天数。E路守护未公开此数,默认30天(配置值)。",
    )
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

    def payout(self, *, days: int = 0) -> Decimal:
        """BR-P4: amount, or min(days, max_days) x rate, limited by yearly_cap."""
        if self.kind == BenefitKind.LUMP_SUM:
            value = self.amount or Decimal("0")
        else:
            value = (self.daily_rate or Decimal("0")) * min(days, self.max_days or 0)
        if self.yearly_cap is not None:
            value = min(value, self.yearly_cap)
        return value


class RuleKind(models.TextChoices):
    OCCUPATION_IN = "occupation_in", "职业属于"
    AGE_BETWEEN = "age_between", "年龄在范围内"
    MIN_TENURE_MONTHS = "min_tenure_months", "在平台工作满若干个月"
    NOT_OFFBOARDED = "not_offboarded", "仍在平台工作(未离开平台)"
    MEMBERSHIP_REQUIRED = "membership_required", "须为工会会员"
    REGION_PREFIX = "region_prefix", "常住地在指定地区"


class EligibilityRule(models.Model):
    """One condition a person must meet to be covered by a program.

    Typed columns per kind (occupations / min_value / max_value / region_prefix),
    so both evaluation paths read the same numbers. A rule applies on a day when
    effective_from <= day <= effective_to (open-ended when effective_to is empty);
    change a rule by closing the old row and adding a new one, so history stays.
    """

    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="rules", verbose_name="计划"
    )
    kind = models.CharField("规则类型", max_length=30, choices=RuleKind.choices)
    occupations = models.JSONField(
        "职业代码",
        default=list,
        blank=True,
        help_text="“职业属于”规则使用,例如 courier, food_delivery, ride_hailing, "
        "freight, domestic, construction, sanitation。",
    )
    min_value = models.PositiveSmallIntegerField(
        "下限",
        null=True,
        blank=True,
        help_text="年龄下限(周岁)或最少在平台月数。深工守护未公开年龄与在平台月数"
        "要求,种子数据中的值为可调整的默认配置。",
    )
    max_value = models.PositiveSmallIntegerField(
        "上限", null=True, blank=True, help_text="年龄上限(周岁,含)。"
    )
    region_prefix = models.CharField(
        "区划代码前缀",
        max_length=6,
        blank=True,
        validators=[RegexValidator(r"^\d{2,6}$", "请输入2到6位数字的区划代码前缀。")],
        help_text="“常住地在指定地区”规则使用,例如 4403 为深圳市。",
    )
    effective_from = models.DateField("生效日期")
    effective_to = models.DateField(
        "失效日期", null=True, blank=True, help_text="留空表示长期有效(含当日)。"
    )
    note = models.CharField("备注", max_length=200, blank=True)

    class Meta:
        verbose_name = "资格规则"
        verbose_name_plural = "资格规则"
        ordering = ["program", "kind", "effective_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_to__gte=models.F("effective_from")),
                name="eligibilityrule_dates_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(kind="age_between")
                | (
                    Q(min_value__isnull=False)
                    & Q(max_value__isnull=False)
                    & Q(max_value__gte=models.F("min_value"))
                ),
                name="eligibilityrule_age_has_bounds",
            ),
            models.CheckConstraint(
                condition=~Q(kind="min_tenure_months") | Q(min_value__isnull=False),
                name="eligibilityrule_tenure_has_months",
            ),
            models.CheckConstraint(
                condition=~Q(kind="region_prefix") | ~Q(region_prefix=""),
                name="eligibilityrule_region_has_prefix",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program} · {self.get_kind_display()}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind == RuleKind.OCCUPATION_IN:
            valid = set(Occupation.values)
            if (
                not isinstance(self.occupations, list)
                or not self.occupations
                or not all(isinstance(o, str) and o in valid for o in self.occupations)
            ):
                errors["occupations"] = "请填写职业代码列表,可选:" + ", ".join(
                    sorted(valid)
                )
        if self.kind == RuleKind.AGE_BETWEEN and (
            self.min_value is None
            or self.max_value is None
            or self.max_value < self.min_value
        ):
            errors["max_value"] = "年龄规则需要下限和上限,且上限不小于下限。"
        if self.kind == RuleKind.MIN_TENURE_MONTHS and self.min_value is None:
            errors["min_value"] = "请填写最少在平台月数。"
        if self.kind == RuleKind.REGION_PREFIX and not self.region_prefix:
            errors["region_prefix"] = "请填写区划代码前缀。"
        if self.effective_to and self.effective_to < self.effective_from:
            errors["effective_to"] = "失效日期不能早于生效日期。"
        if errors:
            raise ValidationError(errors)

    def applies_on(self, on: date) -> bool:
        return self.effective_from <= on and (
            self.effective_to is None or on <= self.effective_to
        )


class EnrollmentStatus(models.TextChoices):
    # Labels are shown to the worker (我的保障), so they go through gettext.
    ACTIVE = "active", _("保障中")
    # PIPL art. 24: an automated "no longer eligible" is never final. The
    # nightly re-check moves an active enrollment here; coverage continues
    # until staff confirm (lapsed) or restore (active) it in the admin.
    NEEDS_REVIEW = "needs_review", _("待人工复核")
    LAPSED = "lapsed", _("已失效(不再符合条件)")
    ENDED = "ended", _("已到期")
    WITHDRAWN = "withdrawn", _("已退出")


# Statuses under which an enrollment covers its period: coverage continues
# while staff review an automated "no" (PIPL art. 24).
COVERING_STATUSES = (EnrollmentStatus.ACTIVE, EnrollmentStatus.NEEDS_REVIEW)


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

    # No separate member_id index: the unique (member, program, period_start)
    # constraint leads with it. Fewer indexes = cheaper nightly bulk updates.
    member = models.ForeignKey(
        "members.Member",
        verbose_name="会员",
        on_delete=models.CASCADE,
        related_name="enrollments",
        db_index=False,
    )
    program = models.ForeignKey(
        Program,
        verbose_name="保障计划",
        on_delete=models.PROTECT,
        related_name="enrollments",
    )
    period_start = models.DateField("保障开始")
    period_end = models.DateField("保障结束")
    status = models.CharField(
        "状态",
        max_length=20,
        choices=EnrollmentStatus.choices,
        default=EnrollmentStatus.ACTIVE,
    )
    status_reason = models.CharField("状态原因", max_length=300, blank=True)
    # Set when staff restore an enrollment the nightly check flagged: their
    # decision holds for this period, so the same check does not flag it (and
    # message the worker) again every night. A renewal is a new row: judged anew.
    restored_on = models.DateField("人工复核恢复日期", null=True, blank=True)
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
        # Deliberately no index on status / status_reason / updated_at: the
        # nightly job rewrites those columns on hundreds of thousands of rows,
        # and with none of them indexed (and fillfactor 90, migration
        # 0004_enrollment_fillfactor) PostgreSQL can update in place (HOT)
        # without touching any index. It finds a program's rows by program_id.

    def __str__(self) -> str:
        return f"{self.program} · {self.period_start:%Y}"


class EnrollmentEventSource(models.TextChoices):
    WORKER = "worker", "本人操作"
    STAFF = "staff", "工作人员"
    PLATFORM = "platform", "平台"
    NIGHTLY = "nightly", "每日复核"


class EnrollmentEvent(models.Model):
    """History of an enrollment: one row per state change (append-only).

    The nightly job writes these set-based (INSERT ... SELECT), tagged with its
    run_key, so one run's changes can be found and notified together.
    """

    enrollment = models.ForeignKey(
        Enrollment,
        verbose_name="参保记录",
        on_delete=models.CASCADE,
        related_name="events",
    )
    from_status = models.CharField(
        "原状态", max_length=20, choices=EnrollmentStatus.choices, blank=True
    )
    to_status = models.CharField(
        "新状态", max_length=20, choices=EnrollmentStatus.choices
    )
    reason = models.CharField("原因", max_length=300, blank=True)
    source = models.CharField(
        "来源", max_length=10, choices=EnrollmentEventSource.choices
    )
    run_key = models.CharField("批次", max_length=40, blank=True, db_index=True)
    # The staff member who decided a review (确认失效 / 恢复保障); empty for
    # the worker's own and the nightly job's changes.
    actor = models.ForeignKey(
        "members.User",
        verbose_name="复核人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField("时间", auto_now_add=True)

    class Meta:
        verbose_name = "参保记录变更"
        verbose_name_plural = "参保记录变更"
        ordering = ["created_at", "id"]
        indexes = [
            # Partial: the nightly job's bulk inserts (actor empty) never
            # touch it; deleting a user finds their decisions through it.
            models.Index(
                fields=["actor"],
                condition=Q(actor__isnull=False),
                name="enrollmentevent_actor_set",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_status or '—'} → {self.to_status}"
