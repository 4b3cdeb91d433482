from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.crypto import EncryptedTextField, blind_index
from portal.masking import mask_id_number, mask_name, mask_phone

from .people import (
    ID_NUMBER_INDEX,
    PHONE_INDEX,
    EmploymentCategory,
    Gender,
    Occupation,
)


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PENDING = "pending", _("待审核")
    APPROVED = "approved", _("已通过")
    REJECTED = "rejected", _("未通过")


class MembershipApplication(models.Model):
    """An online application to join (入会, BR-M1..M3).

    One row per applicant account: resubmitting from `pending` or `rejected`
    overwrites it and puts it back to `pending`; `approved` is final. The partial
    unique constraint on the ID blind index allows one pending application per ID
    number across all accounts, so concurrent submissions end in one row.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="申请账号",
        on_delete=models.CASCADE,
        related_name="membership_applications",
    )
    name = models.CharField("姓名", max_length=50)
    id_number = EncryptedTextField("身份证号", purpose="application.id_number")
    id_number_hmac = models.CharField(max_length=64, db_index=True, editable=False)
    birth_date = models.DateField("出生日期")
    gender = models.CharField("性别", max_length=1, choices=Gender.choices)
    phone = EncryptedTextField("手机号", purpose="application.phone")
    phone_hmac = models.CharField(max_length=64, db_index=True, editable=False)
    occupation = models.CharField(
        "职业", max_length=20, choices=Occupation.choices, db_index=True
    )
    platforms = models.ManyToManyField(
        "members.Platform", verbose_name="服务平台", blank=True, related_name="+"
    )
    employment_category = models.CharField(
        "用工类型", max_length=30, choices=EmploymentCategory.choices
    )
    hukou_county = models.CharField("户籍地区划代码", max_length=6)
    residence_county = models.CharField("常住地区划代码", max_length=6)
    org = models.ForeignKey(
        "members.UnionOrg",
        verbose_name="申请加入的工会",
        on_delete=models.PROTECT,
        related_name="applications",
    )
    status = models.CharField(
        "状态",
        max_length=10,
        choices=ApplicationStatus.choices,
        default=ApplicationStatus.DRAFT,
        db_index=True,
    )
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    decided_at = models.DateTimeField("审核时间", null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="审核人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reject_reason = models.CharField("不通过原因", max_length=200, blank=True)
    member = models.ForeignKey(
        "members.Member",
        verbose_name="会员",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="applications",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "入会申请"
        verbose_name_plural = "入会申请"
        ordering = ["-submitted_at", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["id_number_hmac"],
                condition=Q(status="pending"),
                name="application_one_pending_per_id",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(reject_reason=""),
                name="application_rejected_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{mask_name(self.name)} · {self.get_status_display()}"

    def set_id_number(self, normalized_id: str) -> None:
        self.id_number = normalized_id
        self.id_number_hmac = blind_index(normalized_id, purpose=ID_NUMBER_INDEX)

    def set_phone(self, normalized_phone: str) -> None:
        self.phone = normalized_phone
        self.phone_hmac = blind_index(normalized_phone, purpose=PHONE_INDEX)

    @property
    def name_masked(self) -> str:
        return mask_name(self.name)

    @property
    def id_number_masked(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)


class ConsentPurpose(models.TextChoices):
    SENSITIVE_PI_JOIN = "sensitive_pi_join", _("入会处理敏感个人信息(身份证号)")


class ConsentChannel(models.TextChoices):
    WEB = "web", _("网页")
    APP = "app", "App"
    PLATFORM = "platform", _("平台代收")


class ConsentRecord(models.Model):
    """A separate consent (单独同意, PIPL art. 29) with the notice version it was
    given against. Withdrawing sets `withdrawn_at`; the row is kept as evidence."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="账号",
        on_delete=models.CASCADE,
        related_name="consents",
    )
    org = models.ForeignKey(
        "members.UnionOrg",
        verbose_name="处理组织",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    purpose = models.CharField("目的", max_length=40, choices=ConsentPurpose.choices)
    notice_version = models.CharField("告知书版本(哈希)", max_length=64)
    channel = models.CharField(
        "渠道", max_length=10, choices=ConsentChannel.choices, default="web"
    )
    granted_at = models.DateTimeField("同意时间")
    withdrawn_at = models.DateTimeField("撤回时间", null=True, blank=True)

    class Meta:
        verbose_name = "个人信息同意记录"
        verbose_name_plural = "个人信息同意记录"
        ordering = ["-granted_at"]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.granted_at:%Y-%m-%d}"

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None


class MembershipEventKind(models.TextChoices):
    SUBMITTED = "submitted", _("提交入会申请")
    RESUBMITTED = "resubmitted", _("重新提交入会申请")
    APPROVED = "approved", _("入会申请通过")
    REJECTED = "rejected", _("入会申请未通过")
    STATUS_CHANGED = "status_changed", _("会籍状态变更")


class MembershipEvent(models.Model):
    """The membership history a worker sees on 我的 and staff see in the admin."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="账号",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="membership_events",
    )
    member = models.ForeignKey(
        "members.Member",
        verbose_name="会员",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
    )
    application = models.ForeignKey(
        MembershipApplication,
        verbose_name="入会申请",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    org = models.ForeignKey(
        "members.UnionOrg", verbose_name="工会组织", on_delete=models.PROTECT
    )
    kind = models.CharField("事件", max_length=20, choices=MembershipEventKind.choices)
    from_status = models.CharField("原状态", max_length=20, blank=True)
    to_status = models.CharField("新状态", max_length=20, blank=True)
    note = models.CharField("说明", max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="操作人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField("时间", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "会籍记录"
        verbose_name_plural = "会籍记录"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.get_kind_display()


class DataRequestKind(models.TextChoices):
    EXPORT = "export", _("复制我的个人信息")
    DELETION = "deletion", _("删除我的个人信息")
    WITHDRAWAL = "withdrawal", _("退会")
    # PIPL art. 24: the worker asks why an automated check decided about them
    # (services: the nightly eligibility re-check puts enrollments under review).
    EXPLANATION = "explanation", _("要求说明自动判断的理由")
    # PIPL art. 46: the worker asks to correct what the union holds about them.
    CORRECTION = "correction", _("更正我的个人信息")


class DataRequestStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    DONE = "done", _("已办结")
    REFUSED = "refused", _("不予办理")


class DataRequest(models.Model):
    """A personal-information rights request (PIPL art. 44-47) or a withdrawal
    from membership, processed by staff of the worker's union org."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="申请账号",
        on_delete=models.CASCADE,
        related_name="data_requests",
    )
    member = models.ForeignKey(
        "members.Member",
        verbose_name="会员",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="data_requests",
    )
    org = models.ForeignKey(
        "members.UnionOrg",
        verbose_name="处理组织",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    kind = models.CharField("类型", max_length=20, choices=DataRequestKind.choices)
    status = models.CharField(
        "状态",
        max_length=10,
        choices=DataRequestStatus.choices,
        default=DataRequestStatus.OPEN,
        db_index=True,
    )
    note = models.CharField("申请说明", max_length=500, blank=True)
    response = models.CharField("处理意见", max_length=500, blank=True)
    created_at = models.DateTimeField("提交时间", auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField("处理时间", null=True, blank=True)
    processed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="处理人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = "个人信息/退会申请"
        verbose_name_plural = "个人信息/退会申请"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind"],
                condition=Q(status="open"),
                name="datarequest_one_open_per_kind",
            ),
            models.CheckConstraint(
                condition=~Q(status="refused") | ~Q(response=""),
                name="datarequest_refused_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.get_status_display()}"

    # Answered within 15 working days (the worker is told so when asking; PIPL
    # art. 50, GB/T 35273 §8.7 allows at most 30 days).
    ANSWER_WORKDAYS = 15

    @property
    def answer_due(self):
        """The last day to answer: 15 working days after the request
        (Asia/Shanghai; portal.workdays knows the holidays)."""
        from django.utils import timezone

        from portal.workdays import add_workdays

        return add_workdays(timezone.localdate(self.created_at), self.ANSWER_WORKDAYS)

    @property
    def is_overdue(self) -> bool:
        from django.utils import timezone

        return (
            self.status == DataRequestStatus.OPEN
            and timezone.localdate() > self.answer_due
        )
