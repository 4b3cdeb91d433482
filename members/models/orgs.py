from __future__ import annotations

from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Length, Replace

from members.ip_allowlist import validate_network_list


class OrgLevel(models.TextChoices):
    NATIONAL = "national", "全国"
    PROVINCIAL = "provincial", "省级"
    CITY = "city", "市级"
    DISTRICT = "district", "区(县)级"
    STREET = "street", "街道(乡镇)级"
    GRASSROOTS = "grassroots", "基层"


class OrgKind(models.TextChoices):
    FEDERATION = "federation", "总工会"
    INDUSTRY = "industry", "产业工会"
    ALLIANCE = "alliance", "联合会"
    GRASSROOTS = "grassroots", "基层工会"


# Depth in the tree: the number of "/" in the materialised path.
ORG_DEPTH = Length("path") - Length(Replace("path", Value("/")))


class UnionOrg(models.Model):
    """A node of the union tree (BR-M4).

    `path` is a materialised path of ids ("/1/4/17/"), so "this org and everything
    under it" is one indexed prefix filter: staff scoping uses it everywhere.
    """

    name = models.CharField("名称", max_length=100)
    level = models.CharField("层级", max_length=20, choices=OrgLevel.choices)
    kind = models.CharField("类型", max_length=20, choices=OrgKind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name="上级组织",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    path = models.CharField(
        "层级路径", max_length=255, editable=False, db_index=True, default=""
    )
    region_code = models.CharField("行政区划代码", max_length=6)
    credit_code = models.CharField(
        "统一社会信用代码", max_length=18, blank=True, default=""
    )
    is_gig_pool = models.BooleanField(
        "新业态兜底入会组织",
        default=False,
        help_text="没有所在单位工会的新就业形态劳动者默认在此入会。",
    )
    is_active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "工会组织"
        verbose_name_plural = "工会组织"
        # Lists and choices read as the tree, by geography: GB/T 2260 codes are
        # hierarchical (440000 → 440300 → 440305), so the region code puts a
        # province before its cities and a city before its districts in their
        # official order; within one region the parent comes first (depth), then
        # names. `path` alone would not do: its ids compare as text ("/3/11/"
        # sorts before "/3/5/").
        ordering = ["region_code", ORG_DEPTH, "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(level="national") | Q(parent__isnull=False),
                name="unionorg_non_root_has_parent",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Platform(models.Model):
    """A gig platform company that enrolls its riders through the API."""

    code = models.SlugField("平台代码", max_length=40, unique=True)
    name = models.CharField("平台名称", max_length=100)
    credit_code = models.CharField(
        "统一社会信用代码", max_length=18, blank=True, default=""
    )
    occupations = models.JSONField(
        "从业职业", default=list, blank=True, help_text="平台上的职业代码列表"
    )
    is_active = models.BooleanField("启用", default=True)
    allowed_networks = models.JSONField(
        "接口调用IP白名单",
        default=list,
        blank=True,
        validators=[validate_network_list],
        help_text=(
            "该平台的接口密钥只能从这些IP网段调用(CIDR,IPv4或IPv6)。"
            "留空 = 拒绝所有调用;任意地址须明确写 0.0.0.0/0 和 ::/0。"
        ),
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "平台企业"
        verbose_name_plural = "平台企业"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
