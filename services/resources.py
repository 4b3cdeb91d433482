"""CSV import/export of stations (django-import-export, admin only).

`hours` uses the compact text form of services.opening_hours ("mon-fri
08:00-20:00; sat 22:00-02:00") and `amenities` a comma-separated list of codes;
a malformed value is a row error shown by the import preview. Exported text cells
that a spreadsheet would run as a formula are prefixed with ' (security.md IV4).
"""

from __future__ import annotations

from import_export import fields, resources, widgets

from members.models import UnionOrg, User
from members.selectors.orgs import orgs_visible_to
from services.actions.stations import station_set_hours
from services.models import Amenity, Station, amenity_field
from services.opening_hours import (
    HoursSyntaxError,
    format_hours_text,
    parse_hours_text,
)

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
TEXT_COLUMNS = (
    "name",
    "operator_name",
    "address",
    "phone",
    "access_note",
    "hours",
    "amenities",
)


def escape_formula(value):
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class HoursWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        try:
            return parse_hours_text(str(value or ""))
        except HoursSyntaxError as exc:
            raise ValueError(str(exc)) from exc

    def render(self, value, obj=None, **kwargs):
        return format_hours_text(value or {})


class AmenitiesWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        codes = [c.strip() for c in str(value or "").replace(";", ",").split(",")]
        codes = [c for c in codes if c]
        unknown = [c for c in codes if c not in Amenity.values]
        if unknown:
            raise ValueError(f"未知的设施代码:{', '.join(unknown)[:100]}")
        return codes

    def render(self, value, obj=None, **kwargs):
        return ",".join(value or [])


class StationResource(resources.ModelResource):
    org = fields.Field(
        attribute="org",
        column_name="org_id",
        widget=widgets.ForeignKeyWidget(UnionOrg, field="pk"),
    )
    hours = fields.Field(
        attribute="import_hours", column_name="hours", widget=HoursWidget()
    )
    amenities = fields.Field(
        attribute="import_amenities", column_name="amenities", widget=AmenitiesWidget()
    )

    class Meta:
        model = Station
        fields = (
            "id",
            "name",
            "org",
            "operator_name",
            "address",
            "county_code",
            "latitude",
            "longitude",
            "is_24h",
            "hours",
            "amenities",
            "star_level",
            "most_beautiful_year",
            "phone",
            "access_method",
            "access_note",
            "last_verified_at",
            "is_active",
        )
        import_id_fields = ("id",)
        clean_model_instances = True
        skip_unchanged = False

    def __init__(self, user: User | None = None, **kwargs):
        super().__init__(**kwargs)
        self.user = user

    def get_queryset(self):
        qs = super().get_queryset()
        if self.user is None or self.user.is_superuser:
            return qs
        return qs.filter(org__in=orgs_visible_to(user=self.user))

    def before_import_row(self, row, **kwargs):
        for column in TEXT_COLUMNS:
            value = row.get(column)
            if (
                isinstance(value, str)
                and value[:1] == "'"
                and value[1:].startswith(FORMULA_PREFIXES)
            ):
                row[column] = value[1:]

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        if self.user is not None and not self.user.is_superuser:
            from django.core.exceptions import ValidationError

            visible = orgs_visible_to(user=self.user)
            if (
                instance.org_id is None
                or not visible.filter(pk=instance.org_id).exists()
            ):
                raise ValidationError({"org": "只能导入本级及下级工会运营的驿站。"})

    def before_save_instance(self, instance, row, **kwargs):
        codes = getattr(instance, "import_amenities", None)
        if codes is not None:
            for amenity in Amenity:
                setattr(instance, amenity_field(amenity.value), amenity.value in codes)

    def after_save_instance(self, instance, row, **kwargs):
        weekly = getattr(instance, "import_hours", None)
        if weekly is not None:
            station_set_hours(station=instance, weekly=weekly)

    def dehydrate_hours(self, station: Station) -> str:
        weekly: dict[int, list] = {}
        for row in station.hours.all():
            weekly.setdefault(row.weekday, []).append((row.opens, row.closes))
        return format_hours_text(weekly)

    def dehydrate_amenities(self, station: Station) -> str:
        return ",".join(a.value for a in station.amenities)

    def export_field(self, field, instance, **kwargs):
        return escape_formula(super().export_field(field, instance, **kwargs))
