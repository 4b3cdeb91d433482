from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm, AdminPasswordChangeForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from members.login_rate import RETRY_AFTER_UNAVAILABLE, LoginRateLimitMixin
from portal.forms import with_blank_choice
from portal.throttling import ThrottleUnavailable, rate_limit_wait


class LoginForm(LoginRateLimitMixin, AuthenticationForm):
    """Workers type their mobile number; staff their username. The login rate
    limits run before the password is checked (members/login_rate.py)."""

    username = forms.CharField(
        label=_("手机号或用户名"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    error_messages = {
        "invalid_login": _("手机号(用户名)或密码不正确。"),
        "inactive": _("该账号已停用。"),
    }


class StaffLoginForm(LoginRateLimitMixin, AdminAuthenticationForm):
    """The admin's password step, with the same login rate limits."""


class StaffPasswordChangeForm(AdminPasswordChangeForm):
    """The admin's 修改密码 form. Every attempt counts against the account's
    PASSWORD_CHANGE_RATE (the worker page's counter) before the current
    password is hashed (AU3), so a borrowed staff session cannot guess it; a
    wrong current password and a change are audited like the worker page's.
    The view reads `limit_status` (members/admin_site.py)."""

    limit_status: int | None = None
    limit_retry_after: int | None = None

    def clean_old_password(self):
        from members.actions.worker_mfa import account_audit
        from members.models import AuditLog

        try:
            wait = rate_limit_wait(
                scope="password_change",
                ident=str(self.user.pk),
                rate=settings.PASSWORD_CHANGE_RATE,
            )
        except ThrottleUnavailable:
            self.limit_status = 503
            self.limit_retry_after = RETRY_AFTER_UNAVAILABLE
            raise ValidationError(
                _("服务暂时不可用,请稍后再试。"), code="unavailable"
            ) from None
        if wait is not None:
            self.limit_status = 429
            self.limit_retry_after = wait
            raise ValidationError(_("尝试次数过多,请稍后再试。"), code="rate_limited")
        try:
            return super().clean_old_password()
        except ValidationError:
            with transaction.atomic():
                account_audit(
                    action="password_change",
                    user=self.user,
                    outcome=AuditLog.Outcome.FAILURE,
                    detail={"reason": "wrong_password", "via": "admin"},
                )
            raise

    def save(self, commit=True):
        from members.actions.worker_mfa import account_audit
        from members.models import AuditLog

        with transaction.atomic():
            user = super().save(commit=commit)
            if commit:
                account_audit(
                    action="password_change",
                    user=user,
                    outcome=AuditLog.Outcome.SUCCESS,
                    detail={"via": "admin"},
                )
        return user


class PhoneField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("手机号"))
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={"autocomplete": "tel", "inputmode": "tel", "placeholder": ""}
            ),
        )
        super().__init__(**kwargs)

    def clean(self, value):
        from members.validators import normalize_phone

        return normalize_phone(super().clean(value))


class RegisterForm(forms.Form):
    """Phone first: "获取验证码" validates the phone only; "注册" needs all."""

    phone = PhoneField()
    code = forms.CharField(
        label=_("短信验证码"),
        required=False,
        max_length=6,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}
        ),
    )
    password1 = forms.CharField(
        label=_("设置密码"),
        required=False,
        strip=False,
        max_length=128,
        help_text=_("至少12个字符,可以是一句好记的话。"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("再次输入密码"),
        required=False,
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, sending: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.sending = sending

    def clean(self):
        from django.contrib.auth.password_validation import validate_password

        data = super().clean()
        if self.sending or "phone" not in data:
            return data
        code = (data.get("code") or "").strip()
        if not (len(code) == 6 and code.isdigit()):
            self.add_error("code", _("请输入6位数字验证码。"))
        password = data.get("password1") or ""
        if not password:
            self.add_error("password1", _("请设置密码。"))
        elif password != data.get("password2"):
            self.add_error("password2", _("两次输入的密码不一致。"))
        else:
            try:
                validate_password(password)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


class JoinForm(forms.Form):
    """The 入会 form (BR-M1). The phone is the account's verified number."""

    name = forms.CharField(label=_("姓名"), max_length=50)
    id_number = forms.CharField(
        label=_("身份证号"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_("18位;15位旧号码会自动升级。"),
    )
    occupation = forms.ChoiceField(label=_("职业"))
    platforms = forms.ModelMultipleChoiceField(
        label=_("服务平台(可多选)"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    employment_category = forms.ChoiceField(label=_("与平台的用工关系"))
    hukou_county = forms.CharField(
        label=_("户籍地行政区划代码(选填)"),
        min_length=6,
        max_length=6,
        required=False,
        help_text=_("不填则取身份证号前6位;户口迁移过的请填写现户籍地代码。"),
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    residence_county = forms.ChoiceField(label=_("常住地(区)"))
    org = forms.ModelChoiceField(
        label=_("加入的工会"),
        queryset=None,
        required=False,
        empty_label=_("按常住地自动选择(所在区新业态联合工会)"),
    )
    consent_sensitive = forms.BooleanField(
        label=_("我已阅读上述告知,单独同意工会处理我的身份证号码等敏感个人信息"),
        required=True,
        error_messages={"required": _("不同意处理敏感个人信息将无法在线入会。")},
    )

    def __init__(self, *args, **kwargs):
        from members.models import EmploymentCategory, Occupation, Platform, RegionCode
        from members.selectors.joining import joinable_orgs

        super().__init__(*args, **kwargs)
        self.fields["occupation"].choices = with_blank_choice(Occupation.choices)
        self.fields["employment_category"].choices = with_blank_choice(
            EmploymentCategory.choices
        )
        self.fields["platforms"].queryset = Platform.objects.filter(is_active=True)
        self.fields["org"].queryset = joinable_orgs()
        districts = (
            RegionCode.objects.filter(code__startswith="4403", valid_to__isnull=True)
            .exclude(code="440300")
            .order_by("code")
        )
        self.fields["residence_county"].choices = with_blank_choice(
            (r.code, _("深圳市%(district)s") % {"district": r.name}) for r in districts
        )

    def clean_id_number(self):
        from django.utils import timezone

        from members.actions.joining import JOIN_AGE_HIGH, JOIN_AGE_LOW
        from members.validators import check_age, parse_id_number

        today = timezone.localdate()
        info = parse_id_number(self.cleaned_data["id_number"], today=today)
        check_age(info, low=JOIN_AGE_LOW, high=JOIN_AGE_HIGH, today=today)
        return info.number

    def clean_name(self):
        from members.validators import normalize_name

        return normalize_name(self.cleaned_data["name"])

    def clean_hukou_county(self):
        value = self.cleaned_data["hukou_county"].strip()
        if value and not value.isdigit():
            raise forms.ValidationError(_("行政区划代码应为6位数字。"))
        return value

    def clean(self):
        data = super().clean()
        # GB 11643: the ID number's first 6 digits are the address code of the
        # household registration when the number was issued (domain.md §7), the
        # right default unless the hukou has moved since.
        if not data.get("hukou_county") and data.get("id_number"):
            data["hukou_county"] = data["id_number"][:6]
        return data


class DataRequestForm(forms.Form):
    kind = forms.ChoiceField(label=_("申请事项"))
    note = forms.CharField(
        label=_("说明(选填)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs):
        from members.models import DataRequestKind

        super().__init__(*args, **kwargs)
        # No default: deletion and withdrawal are both irreversible for the worker.
        self.fields["kind"].choices = with_blank_choice(
            [
                (DataRequestKind.DELETION, DataRequestKind.DELETION.label),
                (DataRequestKind.WITHDRAWAL, DataRequestKind.WITHDRAWAL.label),
                (DataRequestKind.EXPLANATION, DataRequestKind.EXPLANATION.label),
                (DataRequestKind.CORRECTION, DataRequestKind.CORRECTION.label),
            ]
        )

    def clean(self):
        from members.models import DataRequestKind

        data = super().clean()
        if data.get("kind") == DataRequestKind.CORRECTION and not data.get("note"):
            self.add_error(
                "note",
                _(
                    "请写明哪项信息有误、应如何更正。身份证号、手机号不必写完整,"
                    "工作人员会与你核实。"
                ),
            )
        return data


class ReasonForm(forms.Form):
    """Admin actions that need a reason (reject, refuse, reveal)."""

    reason = forms.CharField(
        label=_("原因"), max_length=200, widget=forms.Textarea(attrs={"rows": 3})
    )


class CaseAssignForm(forms.Form):
    """The admin's "assign to a reviewer" step (security.md AC5): `staff` is
    limited to `members.actions.cases.assignable_staff(actor=...)`."""

    staff = forms.ModelChoiceField(label=_("审核员"), queryset=None)
    reason = forms.CharField(
        label=_("分配事由"),
        max_length=200,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, staff_queryset, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = staff_queryset


class RevealForm(forms.Form):
    field = forms.ChoiceField(
        label=_("字段"), choices=[("id_number", _("身份证号")), ("phone", _("手机号"))]
    )
    reason = forms.CharField(label=_("查看事由"), min_length=2, max_length=200)


def six_digit_code_field(label) -> forms.CharField:
    """A one-time code input: numeric keypad, autofill from SMS/authenticator."""
    return forms.CharField(
        label=label,
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
            }
        ),
    )


def clean_six_digits(value: str) -> str:
    """Spaces removed; exactly six ASCII digits, else a form error."""
    code = "".join(value.split())
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise forms.ValidationError(_("请输入6位数字验证码。"))
    return code


class OtpTokenForm(forms.Form):
    """The 6-digit code from the staff member's authenticator app."""

    token = six_digit_code_field(_("动态验证码"))

    def clean_token(self) -> str:
        return clean_six_digits(self.cleaned_data["token"])


class SmsCodeForm(forms.Form):
    """The 6-digit SMS code of a worker's new-device login or step-up."""

    code = six_digit_code_field(_("短信验证码"))

    def clean_code(self) -> str:
        return clean_six_digits(self.cleaned_data["code"])


def _new_password_field(label) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


def _optional_code_field() -> forms.CharField:
    return forms.CharField(
        label=_("短信验证码"),
        required=False,
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}
        ),
    )


def _check_new_password(form: forms.Form, data: dict, first: str, second: str):
    """Both entries given and equal, and the settings validators pass (AU1);
    the account-specific validators run again in the action."""
    from django.contrib.auth.password_validation import validate_password

    password = data.get(first) or ""
    if not password:
        form.add_error(first, _("请设置新密码。"))
    elif password != data.get(second):
        form.add_error(second, _("两次输入的密码不一致。"))
    else:
        try:
            validate_password(password)
        except forms.ValidationError as exc:
            form.add_error(first, exc)


def _check_code(form: forms.Form, data: dict) -> None:
    try:
        data["code"] = clean_six_digits(data.get("code") or "")
    except forms.ValidationError as exc:
        form.add_error("code", exc)


class PasswordForgotForm(forms.Form):
    """Forgot password, phone first: "获取验证码" needs the phone only; "重置密码"
    needs the phone, the code and the new password twice."""

    phone = PhoneField(help_text=_("注册时使用的手机号。"))
    code = _optional_code_field()
    password1 = _new_password_field(_("新密码"))
    password2 = _new_password_field(_("再次输入新密码"))

    def __init__(self, *args, sending: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.sending = sending
        self.fields["password1"].help_text = _("至少12个字符,可以是一句好记的话。")

    def clean(self):
        data = super().clean()
        if self.sending or "phone" not in data:
            return data
        _check_code(self, data)
        _check_new_password(self, data, "password1", "password2")
        return data


class PasswordChangeForm(forms.Form):
    """The current password and the new one twice (after a fresh SMS code)."""

    old_password = forms.CharField(
        label=_("当前密码"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "current-password", "autofocus": True}
        ),
    )
    new_password1 = _new_password_field(_("新密码"))
    new_password2 = _new_password_field(_("再次输入新密码"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].help_text = _("至少12个字符,可以是一句好记的话。")

    def clean(self):
        data = super().clean()
        _check_new_password(self, data, "new_password1", "new_password2")
        return data


class PhoneChangeForm(forms.Form):
    """The new number: "获取验证码" sends a code to it; "确认更换" needs the code."""

    phone = PhoneField(label=_("新手机号"))
    code = _optional_code_field()

    def __init__(self, *args, sending: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.sending = sending

    def clean(self):
        data = super().clean()
        if self.sending or "phone" not in data:
            return data
        _check_code(self, data)
        return data
