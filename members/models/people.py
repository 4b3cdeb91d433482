from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.crypto import EncryptedTextField, blind_index
from portal.masking import mask_id_number, mask_name, mask_phone

ID_NUMBER_INDEX = "id_number"
PHONE_INDEX = "phone"


class Occupation(models.TextChoices):
    COURIER = "courier", _("快递员")
    FOOD_DELIVERY = "food_delivery", _("外卖员")
    RIDE_HAILING = "ride_hailing", _("网约车司机")
    FREIGHT = "freight", _("货车司机")
    DOMESTIC = "domestic", _("家政服务员")
    CONSTRUCTION = "construction", _("建筑工人")
    SANITATION = "sanitation", _("环卫工人")
    OTHER = "other", _("其他")


class EmploymentCategory(models.TextChoices):
    """人社部发〔2021〕56号: the three kinds of relationship with a platform."""

    LABOUR_CONTRACT = "labour_contract", _("符合确立劳动关系(签订劳动合同)")
    WRITTEN_AGREEMENT = "written_agreement", _("不完全符合确立劳动关系(书面协议)")
    SELF_EMPLOYED = "self_employed", _("个人依托平台自主经营")


class Gender(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")


class MemberStatus(models.TextChoices):
    """Membership state of a person the union knows (domain.md §8).

    `applicant`: known (joined online and waiting, or provided by a platform) but not
    yet approved. `transferred` is an event in the history, not a resting state.
    """

    APPLICANT = "applicant", _("待入会")
    ACTIVE = "active", _("会员")
    RETAINED = "retained", _("保留会籍")
    WITHDRAWN = "withdrawn", _("已退会")
    LAPSED = "lapsed", _("会籍失效")
    EXPELLED = "expelled", _("已开除")


# Membership ended: the rows the retention job anonymises after a while (PI8).
EX_MEMBER_STATUSES = (
    MemberStatus.WITHDRAWN,
    MemberStatus.LAPSED,
    MemberStatus.EXPELLED,
)
ANONYMISED_NAME = "已匿名"


class Member(models.Model):
    """A worker: the person record behind a membership, enrollments and claims.

    Identity is the ID number, encrypted at rest and unique through its blind index
    (`id_number_hmac`), so twenty concurrent registrations with one ID end in one
    row. Birth date and sex are derived from the ID and kept in the clear because
    eligibility rules run over them in SQL.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name="账号",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="member",
    )
    name = models.CharField("姓名", max_length=50)
    id_number = EncryptedTextField("身份证号", purpose="member.id_number")
    id_number_hmac = models.CharField(max_length=64, unique=True, editable=False)
    birth_date = models.DateField("出生日期")
    gender = models.CharField("性别", max_length=1, choices=Gender.choices)
    phone = EncryptedTextField("手机号", purpose="member.phone", blank=True, default="")
    phone_hmac = models.CharField(
        max_length=64, null=True, blank=True, unique=True, editable=False
    )
    occupation = models.CharField(
        "职业", max_length=20, choices=Occupation.choices, db_index=True
    )
    employment_category = models.CharField(
        "用工类型", max_length=30, choices=EmploymentCategory.choices, blank=True
    )
    hukou_county = models.CharField("户籍地区划代码", max_length=6, blank=True)
    residence_county = models.CharField("常住地区划代码", max_length=6, blank=True)
    org = models.ForeignKey(
        "members.UnionOrg",
        verbose_name="所属工会",
        on_delete=models.PROTECT,
        related_name="members",
    )
    status = models.CharField(
        "会籍状态",
        max_length=20,
        choices=MemberStatus.choices,
        default=MemberStatus.APPLICANT,
        db_index=True,
    )
    member_no = models.CharField(
        "会员证号", max_length=20, null=True, blank=True, unique=True
    )
    joined_on = models.DateField("入会日期", null=True, blank=True)
    # When the membership ended (withdrawn / lapsed / expelled); the retention job
    # anonymises the row RETENTION_EX_MEMBER_DAYS later (falls back to updated_at).
    left_at = models.DateTimeField("离会时间", null=True, blank=True)
    # Set by the retention job: name replaced, ID/phone and blind indexes erased.
    anonymised_at = models.DateTimeField(
        "匿名化时间", null=True, blank=True, editable=False
    )
    reminders_opt_out = models.BooleanField("不接收提醒短信", default=False)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "会员"
        verbose_name_plural = "会员"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["org", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="active") | Q(member_no__isnull=False),
                name="member_active_has_member_no",
            ),
        ]

    def __str__(self) -> str:
        return mask_name(self.name)

    def set_id_number(self, normalized_id: str) -> None:
        self.id_number = normalized_id
        self.id_number_hmac = blind_index(normalized_id, purpose=ID_NUMBER_INDEX)

    def set_phone(self, normalized_phone: str) -> None:
        self.phone = normalized_phone
        self.phone_hmac = (
            blind_index(normalized_phone, purpose=PHONE_INDEX)
            if normalized_phone
            else None
        )

    @property
    def name_masked(self) -> str:
        return mask_name(self.name)

    @property
    def id_number_masked(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)


class PlatformRider(models.Model):
    """A member's account on one platform, as the platform attested it.

    Tenure (`joined_platform_on` .. `offboarded_on`) feeds program eligibility. The
    consent fields are the platform's record of the rider's separate consent to
    providing personal information to the union (PIPL art. 23).
    """

    platform = models.ForeignKey(
        "members.Platform",
        verbose_name="平台企业",
        on_delete=models.PROTECT,
        related_name="riders",
    )
    member = models.ForeignKey(
        Member,
        verbose_name="会员",
        on_delete=models.CASCADE,
        related_name="platform_links",
    )
    platform_rider_id = models.CharField("平台骑手编号", max_length=64)
    joined_platform_on = models.DateField("入驻平台日期", null=True, blank=True)
    offboarded_on = models.DateField("离开平台日期", null=True, blank=True)
    consent_ref = models.CharField("授权同意凭证", max_length=128, blank=True)
    consented_at = models.DateTimeField("授权同意时间", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "平台骑手"
        verbose_name_plural = "平台骑手"
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "platform_rider_id"],
                name="platformrider_unique_rider_id",
            ),
            models.UniqueConstraint(
                fields=["platform", "member"], name="platformrider_unique_member"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform} · {self.platform_rider_id}"
