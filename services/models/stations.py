"""Rest stations (工会驿站) for outdoor and gig workers: domain.md §3, BR-S1..S3.

Coordinates are WGS-84 as browsers report them; conversion to the Chinese map
datums happens only when a navigation link is built (services/geo.py).
"""

from __future__ import annotations

import functools
import uuid
from datetime import timedelta

from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
)
from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.crypto import EncryptedTextField
from portal.masking import mask_phone


class Amenity(models.TextChoices):
    """BR-S1 amenity flags. The value is the API/filter code; each maps to a
    boolean column `has_<code>` so a filter is an indexed-row predicate."""

    WATER = "water", _("饮用水")
    HOT_COLD_WATER = "hot_cold_water", _("冷热水")
    MICROWAVE = "microwave", _("微波炉")
    FRIDGE = "fridge", _("冰箱")
    AC = "ac", _("空调")
    HEATING = "heating", _("取暖")
    TOILET_ONSITE = "toilet_onsite", _("站内卫生间")
    TOILET_NEARBY = "toilet_nearby", _("附近卫生间")
    FIRST_AID = "first_aid", _("急救药箱")
    CHARGING = "charging", _("手机/电动车充电")
    BATTERY_SWAP = "battery_swap", _("换电")
    READING = "reading", _("阅读")
    AED = "aed", "AED"
    LEGAL_SERVICE = "legal_service", _("法律服务")
    MEALS = "meals", _("爱心餐")


# A short pictogram shown beside each amenity's text (the text is what counts).
AMENITY_ICONS: dict[str, str] = {
    "water": "💧",
    "hot_cold_water": "🚰",
    "microwave": "🍱",
    "fridge": "🧊",
    "ac": "❄️",
    "heating": "🔥",
    "toilet_onsite": "🚻",
    "toilet_nearby": "🚻",
    "first_aid": "⛑️",
    "charging": "🔌",
    "battery_swap": "🔋",
    "reading": "📚",
    "aed": "❤️",
    "legal_service": "⚖️",
    "meals": "🍚",
}


# Latitude bands per degree for Station.lat_cell (1/20 degree is about 5.5 km).
LAT_CELLS_PER_DEGREE = 20


def amenity_field(code: str) -> str:
    return f"has_{code}"


class AccessMethod(models.TextChoices):
    OPEN = "open", _("直接进入")
    QR = "qr", _("扫门口二维码进入")
    CARD = "card", _("刷工会会员卡/身份证")
    FACE = "face", _("人脸识别")
    STAFF = "staff", _("请值班人员开门")


county_code_validator = RegexValidator(r"^\d{6}$", "区县代码应为 6 位数字。")
phone_validator = RegexValidator(
    r"^[0-9+\-() ]{5,20}$", "电话号码只能包含数字、空格和 + - ( )。"
)


class Station(models.Model):
    name = models.CharField("名称", max_length=100)
    org = models.ForeignKey(
        "members.UnionOrg",
        verbose_name="运营工会",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stations",
    )
    operator_name = models.CharField(
        "运营单位名称",
        max_length=100,
        blank=True,
        help_text="未关联工会组织时显示此名称(如承建单位)。",
    )
    address = models.CharField("地址", max_length=200)
    county_code = models.CharField(
        "区县代码(GB/T 2260)",
        max_length=6,
        validators=[county_code_validator],
        db_index=True,
    )
    latitude = models.DecimalField(
        "纬度(WGS-84)",
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        "经度(WGS-84)",
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    is_24h = models.BooleanField("24 小时开放", default=False)
    has_water = models.BooleanField(Amenity.WATER.label, default=False)
    has_hot_cold_water = models.BooleanField(
        Amenity.HOT_COLD_WATER.label, default=False
    )
    has_microwave = models.BooleanField(Amenity.MICROWAVE.label, default=False)
    has_fridge = models.BooleanField(Amenity.FRIDGE.label, default=False)
    has_ac = models.BooleanField(Amenity.AC.label, default=False)
    has_heating = models.BooleanField(Amenity.HEATING.label, default=False)
    has_toilet_onsite = models.BooleanField(Amenity.TOILET_ONSITE.label, default=False)
    has_toilet_nearby = models.BooleanField(Amenity.TOILET_NEARBY.label, default=False)
    has_first_aid = models.BooleanField(Amenity.FIRST_AID.label, default=False)
    has_charging = models.BooleanField(Amenity.CHARGING.label, default=False)
    has_battery_swap = models.BooleanField(Amenity.BATTERY_SWAP.label, default=False)
    has_reading = models.BooleanField(Amenity.READING.label, default=False)
    has_aed = models.BooleanField(Amenity.AED.label, default=False)
    has_legal_service = models.BooleanField(Amenity.LEGAL_SERVICE.label, default=False)
    has_meals = models.BooleanField(Amenity.MEALS.label, default=False)
    star_level = models.PositiveSmallIntegerField(
        "星级",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    most_beautiful_year = models.PositiveSmallIntegerField(
        "最美驿站年度",
        null=True,
        blank=True,
        validators=[MinValueValidator(2000), MaxValueValidator(2100)],
    )
    phone = models.CharField(
        "联系电话",
        max_length=20,
        blank=True,
        validators=[phone_validator],
        help_text="驿站公开的值班电话(不是个人信息)。",
    )
    access_method = models.CharField(
        "进入方式",
        max_length=10,
        choices=AccessMethod.choices,
        default=AccessMethod.OPEN,
    )
    access_note = models.CharField("进入说明", max_length=300, blank=True)
    last_verified_at = models.DateField("最近核实日期", null=True, blank=True)
    is_active = models.BooleanField("启用", default=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)
    # A 1/20-degree latitude band (~5.5 km), computed by the database. The nearest
    # search probes the few bands its box touches (IN list) and ranges longitude
    # inside each, instead of scanning the whole latitude band across China.
    # CAST truncates on SQLite and rounds on PostgreSQL; either way a latitude x
    # lands in floor(20x) or floor(20x) + 1, so the search asks for both
    # (services.selectors.stations.lat_cells) and keeps the exact latitude range.
    # The weekly hours as text ("0 08:00:00 22:00:00,0 ...", weekday then opening,
    # ordered), kept by database triggers on StationHours (migration
    # services 0010, PostgreSQL and SQLite): the nearest search reads a station's
    # week from its own row instead of aggregating its hours rows per request
    # (0.41 -> 0.27 ms of PostgreSQL execution for 10 stations, docs/benchmarks.md).
    # Never written by the application.
    week_hours = models.TextField(
        "每周开放时间(派生)", default="", db_default="", editable=False
    )
    lat_cell = models.GeneratedField(
        expression=Cast(
            models.F("latitude") * LAT_CELLS_PER_DEGREE, models.IntegerField()
        ),
        output_field=models.IntegerField(),
        db_persist=True,
        verbose_name="纬度格",
    )

    class Meta:
        verbose_name = "工会驿站"
        verbose_name_plural = "工会驿站"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(star_level__isnull=True)
                | Q(star_level__gte=1, star_level__lte=5),
                name="station_star_level_1_5",
            ),
            models.CheckConstraint(
                condition=Q(latitude__gte=-90, latitude__lte=90)
                & Q(longitude__gte=-180, longitude__lte=180),
                name="station_coordinates_in_range",
            ),
            models.CheckConstraint(
                condition=Q(most_beautiful_year__isnull=True)
                | Q(most_beautiful_year__gte=2000, most_beautiful_year__lte=2100),
                name="station_most_beautiful_year_range",
            ),
        ]
        indexes = [
            # The bounding-box prefilter: equality on a latitude band, a range on
            # longitude, latitude checked inside the index before any row is read.
            models.Index(
                fields=["lat_cell", "longitude", "latitude"],
                name="station_cell_lng_lat_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        """As Model.save, but an update never writes week_hours: the triggers own
        it, and an instance loaded before its hours changed would put the old
        week back."""
        if (
            not self._state.adding
            and not args
            and kwargs.get("update_fields") is None
            and not kwargs.get("force_insert")
        ):
            kwargs["update_fields"] = _station_written_fields()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("services:station_detail", args=[self.pk])

    @property
    def operator_display(self) -> str:
        if self.org_id is not None:
            return self.org.name
        return self.operator_name

    @property
    def amenities(self) -> list[Amenity]:
        return [a for a in Amenity if getattr(self, amenity_field(a.value))]

    @property
    def verification_is_stale(self) -> bool:
        """BR-S3: never verified, or verified more than 12 months ago."""
        if self.last_verified_at is None:
            return True
        return self.last_verified_at < timezone.localdate() - timedelta(days=365)


@functools.cache
def _station_written_fields() -> tuple[str, ...]:
    return tuple(
        f.name
        for f in Station._meta.concrete_fields
        if not f.primary_key and not f.generated and f.name != "week_hours"
    )


class Weekday(models.IntegerChoices):
    MON = 0, _("周一")
    TUE = 1, _("周二")
    WED = 2, _("周三")
    THU = 3, _("周四")
    FRI = 4, _("周五")
    SAT = 5, _("周六")
    SUN = 6, _("周日")


class StationHours(models.Model):
    """One opening interval on a weekday. `closes <= opens` means the interval
    runs past midnight and ends on the next day (22:00-02:00 belongs to the day it
    starts). A weekday with no rows is a closed day; several rows are allowed
    (a lunch break)."""

    station = models.ForeignKey(
        Station, verbose_name="驿站", on_delete=models.CASCADE, related_name="hours"
    )
    weekday = models.PositiveSmallIntegerField("星期", choices=Weekday.choices)
    opens = models.TimeField("开门")
    closes = models.TimeField("关门", help_text="早于开门时间表示次日关门。")

    class Meta:
        verbose_name = "开放时间"
        verbose_name_plural = "开放时间"
        ordering = ["weekday", "opens"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "weekday", "opens"],
                name="stationhours_unique_start",
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6),
                name="stationhours_weekday_0_6",
            ),
            models.CheckConstraint(
                condition=~Q(opens=models.F("closes")),
                name="stationhours_not_empty",
                violation_error_message=(
                    "开门和关门时间不能相同(全天开放请勾选 24 小时)。"
                ),
            ),
        ]
        indexes = [models.Index(fields=["station", "weekday"])]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"

    @property
    def past_midnight(self) -> bool:
        return self.closes <= self.opens


class StationHoliday(models.Model):
    """A date whose schedule replaces the weekday's: closed, or one interval
    (which may again run past midnight)."""

    station = models.ForeignKey(
        Station, verbose_name="驿站", on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField("日期")
    is_closed = models.BooleanField("当天关闭", default=True)
    opens = models.TimeField("开门", null=True, blank=True)
    closes = models.TimeField("关门", null=True, blank=True)
    note = models.CharField("说明", max_length=100, blank=True)

    class Meta:
        verbose_name = "节假日安排"
        verbose_name_plural = "节假日安排"
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "date"], name="stationholiday_unique_date"
            ),
            models.CheckConstraint(
                condition=Q(is_closed=True, opens__isnull=True, closes__isnull=True)
                | (
                    Q(is_closed=False, opens__isnull=False, closes__isnull=False)
                    & ~Q(opens=models.F("closes"))
                ),
                name="stationholiday_closed_or_interval",
                violation_error_message="关闭当天不填时间;开放则需填写不同的开门和关门时间。",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d}"


def _photo_path(instance: StationPhoto, filename: str) -> str:
    # Never the uploader's filename (security.md FU2).
    return f"stations/photos/{instance.uuid}.jpg"


class StationPhoto(models.Model):
    """Uploaded by staff in the admin, re-encoded to JPEG without EXIF/GPS, kept in
    private storage and served by services:station_photo."""

    uuid = models.UUIDField("文件编号", default=uuid.uuid4, unique=True, editable=False)
    station = models.ForeignKey(
        Station, verbose_name="驿站", on_delete=models.CASCADE, related_name="photos"
    )
    image = models.FileField("照片", upload_to=_photo_path, max_length=200)
    caption = models.CharField("说明", max_length=100, blank=True)
    position = models.PositiveSmallIntegerField("排序", default=0)
    created_at = models.DateTimeField("上传时间", auto_now_add=True)

    class Meta:
        verbose_name = "驿站照片"
        verbose_name_plural = "驿站照片"
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.caption or str(self.uuid)


class ProblemKind(models.TextChoices):
    CLOSED_WHEN_OPEN = "closed_when_open", _("开放时间内没开门")
    SUPPLIES_MISSING = "supplies_missing", _("设施或物资缺失")
    OTHER = "other", _("其他问题")


class ProblemStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    RESOLVED = "resolved", _("已处理")


class ProblemReport(models.Model):
    """A worker's report about a station; the operating union sees it in the
    admin (scoped by org subtree). The optional contact is personal data:
    encrypted at rest and shown masked."""

    station = models.ForeignKey(
        Station,
        verbose_name="驿站",
        on_delete=models.CASCADE,
        related_name="problem_reports",
    )
    kind = models.CharField("问题类型", max_length=20, choices=ProblemKind.choices)
    text = models.TextField(
        "问题描述",
        max_length=500,
        blank=True,
        validators=[MaxLengthValidator(500)],  # TextField does not enforce it
    )
    # Optional mobile number so the union can call back: encrypted at rest, shown
    # masked; no blind index because nothing ever looks reports up by it.
    contact = EncryptedTextField(
        "联系手机",
        blank=True,
        default="",
        purpose="problemreport.contact",
        validators=[RegexValidator(r"^1[3-9]\d{9}$", "请输入 11 位手机号。")],
    )
    status = models.CharField(
        "状态",
        max_length=10,
        choices=ProblemStatus.choices,
        default=ProblemStatus.OPEN,
    )
    resolved_at = models.DateTimeField("处理时间", null=True, blank=True)
    resolved_by = models.ForeignKey(
        "members.User",
        verbose_name="处理人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolution_note = models.CharField("处理说明", max_length=300, blank=True)
    created_at = models.DateTimeField("提交时间", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "驿站问题反馈"
        verbose_name_plural = "驿站问题反馈"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["station", "status"])]

    def __str__(self) -> str:
        return f"{self.station} · {self.get_kind_display()}"

    @property
    def contact_masked(self) -> str:
        return mask_phone(self.contact) if self.contact else ""
