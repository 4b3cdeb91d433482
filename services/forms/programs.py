from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from members.models import Occupation
from portal.forms import with_blank_choice


class SelfTestForm(forms.Form):
    """ "我能参加吗?" for someone not logged in: only what the rules look at."""

    occupation = forms.ChoiceField(
        label=_("你的职业"), choices=with_blank_choice(Occupation.choices)
    )
    age = forms.IntegerField(
        label=_("年龄(周岁)"),
        min_value=14,
        max_value=100,
        error_messages={
            "min_value": _("请填写14到100之间的年龄。"),
            "max_value": _("请填写14到100之间的年龄。"),
            "invalid": _("请填写数字。"),
        },
    )
    tenure_months = forms.IntegerField(
        label=_("在平台工作了几个月"),
        min_value=0,
        max_value=600,
        required=False,
        help_text=_("不在平台接单请留空。"),
        error_messages={
            "min_value": _("月数不能小于0。"),
            "max_value": _("月数不能超过600。"),
            "invalid": _("请填写数字。"),
        },
    )
