"""Forms for the public station pages."""

from __future__ import annotations

import math

from django import forms
from django.utils.translation import gettext_lazy as _

from services.geo import DISTRICTS_BY_CODE, SHENZHEN_DISTRICTS
from services.models import Amenity, ProblemKind

# BR-S2: the default is a 15-minute ride; listed first so an unbound select shows it.
RADIUS_CHOICES = [
    ("4", _("骑行 15 分钟(4 公里)")),
    ("1.2", _("步行 15 分钟(1.2 公里)")),
    ("10", _("10 公里内")),
]


class StationSearchForm(forms.Form):
    lat = forms.FloatField(
        required=False, min_value=-90, max_value=90, widget=forms.HiddenInput
    )
    lng = forms.FloatField(
        required=False, min_value=-180, max_value=180, widget=forms.HiddenInput
    )
    district = forms.ChoiceField(
        label=_("所在区"),
        required=False,
        choices=[("", _("请选择所在区"))]
        + [(d.code, d.name) for d in SHENZHEN_DISTRICTS],
    )
    radius = forms.ChoiceField(
        label=_("范围"), required=False, choices=RADIUS_CHOICES, initial="4"
    )
    open_now = forms.BooleanField(label=_("现在开放"), required=False)
    is_24h = forms.BooleanField(label=_("24 小时"), required=False)
    amenity = forms.MultipleChoiceField(
        label=_("需要的设施"),
        required=False,
        choices=Amenity.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    def clean(self):
        data = super().clean()
        lat, lng = data.get("lat"), data.get("lng")
        for name in ("lat", "lng"):
            value = data.get(name)
            if value is not None and not math.isfinite(value):
                self.add_error(name, _("位置无效。"))
        if (lat is None) != (lng is None):
            raise forms.ValidationError(_("位置不完整,请重新定位或选择所在区。"))
        return data

    def origin(self) -> tuple[float, float, str] | None:
        """(lat, lng, description) of the search centre, if any."""
        data = self.cleaned_data
        # A district the user picked wins over an older position in the URL.
        district = DISTRICTS_BY_CODE.get(data.get("district") or "")
        if district:
            return district.lat, district.lng, district.name
        if data.get("lat") is not None and data.get("lng") is not None:
            return data["lat"], data["lng"], str(_("你的位置"))
        return None

    def radius_km(self) -> float:
        return float(self.cleaned_data.get("radius") or "4")


class ProblemReportForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("遇到了什么问题"), choices=ProblemKind.choices, widget=forms.RadioSelect
    )
    text = forms.CharField(
        label=_("具体情况(选填,选“其他问题”时必填)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 500}),
    )
    contact = forms.RegexField(
        label=_("联系手机(选填,方便工会回复你)"),
        required=False,
        regex=r"^1[3-9]\d{9}$",
        max_length=11,
        error_messages={"invalid": _("请输入 11 位手机号。")},
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )

    def clean_text(self) -> str:
        text = self.cleaned_data["text"]
        if any(ord(c) < 32 and c not in "\r\n\t" for c in text):
            raise forms.ValidationError(_("内容包含无效字符。"))
        return text

    def clean(self):
        data = super().clean()
        if (
            data.get("kind") == ProblemKind.OTHER
            and not (data.get("text") or "").strip()
        ):
            self.add_error("text", _("选择“其他问题”时请写明情况。"))
        return data
