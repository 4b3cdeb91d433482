from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import HttpRequest
from import_export.admin import ImportExportModelAdmin

from members.admin_mixins import OrgScopedAdminMixin
from portal.masking import mask_text
from services.actions.stations import (
    PHOTO_MAX_BYTES,
    PHOTO_TOO_LARGE,
    problem_report_resolve,
    reencode_photo,
    station_mark_verified,
)
from services.models import (
    Amenity,
    ProblemReport,
    ProblemStatus,
    Station,
    StationHoliday,
    StationHours,
    StationPhoto,
    amenity_field,
)
from services.resources import StationResource
from services.selectors.stations import (
    station_list_for_admin,
    stations_needing_review,
)

# --- Rest stations -------------------------------------------------------------------


class AmenityListFilter(admin.SimpleListFilter):
    title = "设施"
    parameter_name = "amenity"

    def lookups(self, request, model_admin):
        return Amenity.choices

    def queryset(self, request, queryset):
        if self.value() in Amenity.values:
            return queryset.filter(**{amenity_field(self.value()): True})
        return queryset


class NeedsReviewFilter(admin.SimpleListFilter):
    """BR-S3: verified more than 12 months ago (or never), or open complaints."""

    title = "需要复核"
    parameter_name = "needs_review"

    def lookups(self, request, model_admin):
        return [("yes", "需要复核(超过 12 个月未核实或有未处理反馈)"), ("no", "正常")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return stations_needing_review(queryset)
        if self.value() == "no":
            return queryset.exclude(pk__in=stations_needing_review(queryset))
        return queryset


class StationHoursInline(admin.TabularInline):
    model = StationHours
    extra = 0


class StationHolidayInline(admin.TabularInline):
    model = StationHoliday
    extra = 0


class StationPhotoForm(forms.ModelForm):
    class Meta:
        model = StationPhoto
        fields = ("image", "caption", "position")

    def clean_image(self):
        image = self.cleaned_data["image"]
        if isinstance(image, UploadedFile):
            if image.size > PHOTO_MAX_BYTES:
                raise ValidationError(PHOTO_TOO_LARGE)
            # Re-encoded before it is stored: no EXIF/GPS, no non-image payload.
            return ContentFile(reencode_photo(image.read()), name="photo.jpg")
        return image


class StationPhotoInline(admin.TabularInline):
    model = StationPhoto
    form = StationPhotoForm
    extra = 0


@admin.register(Station)
class StationAdmin(OrgScopedAdminMixin, ImportExportModelAdmin):
    resource_classes = [StationResource]
    list_display = (
        "name",
        "county_code",
        "operator",
        "is_24h",
        "star_level",
        "last_verified_at",
        "open_reports",
        "needs_review",
        "is_active",
    )
    list_filter = (
        ("county_code", admin.AllValuesFieldListFilter),
        AmenityListFilter,
        "star_level",
        NeedsReviewFilter,
        "is_24h",
        "is_active",
    )
    search_fields = ("name", "address", "operator_name")
    list_select_related = ("org",)
    autocomplete_fields = ("org",)
    readonly_fields = ("created_at", "updated_at")
    inlines = [StationHoursInline, StationHolidayInline, StationPhotoInline]
    actions = ["mark_verified"]
    fieldsets = (
        (None, {"fields": ("name", "org", "operator_name", "is_active")}),
        (
            "位置",
            {"fields": ("address", "county_code", "latitude", "longitude")},
        ),
        (
            "开放与进入",
            {"fields": ("is_24h", "access_method", "access_note", "phone")},
        ),
        ("设施", {"fields": tuple(amenity_field(a.value) for a in Amenity)}),
        (
            "评级与核实",
            {
                "fields": (
                    "star_level",
                    "most_beautiful_year",
                    "last_verified_at",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Station]:
        return station_list_for_admin(super().get_queryset(request))

    def get_resource_kwargs(self, request, *args, **kwargs):
        return {
            **super().get_resource_kwargs(request, *args, **kwargs),
            "user": request.user,
        }

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("services.add_station") and request.user.has_perm(
            "services.change_station"
        )

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("services.view_station")

    @admin.display(description="运营")
    def operator(self, obj: Station) -> str:
        return obj.operator_display

    @admin.display(description="未处理反馈", ordering="open_reports")
    def open_reports(self, obj: Station) -> int:
        return obj.open_reports

    @admin.display(description="需复核", boolean=True)
    def needs_review(self, obj: Station) -> bool:
        return obj.verification_is_stale or obj.open_reports > 0

    @admin.action(description="标记为今天已核实", permissions=["change"])
    def mark_verified(self, request: HttpRequest, queryset: QuerySet[Station]):
        count = station_mark_verified(stations=list(queryset), actor=request.user)
        self.message_user(request, f"已标记 {count} 个驿站为今天核实。")


@admin.register(ProblemReport)
class ProblemReportAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    """Reports reach the union that operates the station (and the unions above)."""

    org_path_lookup = "station__org__path"
    list_display = ("station", "kind", "status", "created_at", "contact_display")
    list_filter = ("status", "kind")
    list_select_related = ("station",)
    search_fields = ("station__name",)
    actions = ["resolve"]
    fields = (
        "station",
        "kind",
        "text_display",
        "contact_display",
        "status",
        "created_at",
        "resolved_at",
        "resolved_by",
        "resolution_note",
    )
    readonly_fields = fields

    @admin.display(description="联系方式")
    def contact_display(self, obj: ProblemReport) -> str:
        return obj.contact_masked

    @admin.display(description="问题描述")
    def text_display(self, obj: ProblemReport) -> str:
        # New reports are stored masked; this also covers those written before.
        return mask_text(obj.text)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="标记为已处理", permissions=["change"])
    def resolve(self, request: HttpRequest, queryset: QuerySet[ProblemReport]):
        done = 0
        for report in queryset.filter(status=ProblemStatus.OPEN):
            try:
                problem_report_resolve(report=report, actor=request.user)
            except ValidationError:
                continue  # resolved by someone else in the meantime
            done += 1
        self.message_user(request, f"已处理 {done} 条反馈。", messages.SUCCESS)
