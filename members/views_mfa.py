"""The staff TOTP step after the password (security.md AU4): `otp_verify` asks
for the code of a confirmed device, `otp_setup` enrols one (QR code + base32
secret, confirmed by a code). Mounted by the admin site as `admin:otp_verify`
and `admin:otp_setup`; reachable only by an authenticated staff session."""

from __future__ import annotations

from base64 import b32encode
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import rotate_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login
from django_otp import user_has_device

from members.actions.mfa import (
    OtpOutcome,
    staff_totp_check,
    staff_totp_enrollment_start,
)
from members.forms import OtpTokenForm
from members.mfa import needs_second_factor, user_otp_verified

MSG_WRONG_CODE = gettext_noop("验证码不正确或已使用,请输入验证器中当前的6位数字。")
MSG_THROTTLED = gettext_noop("错误次数过多,请稍后再试。")


def _not_staff(request: HttpRequest) -> HttpResponse | None:
    user = request.user
    if user.is_authenticated and user.is_active and needs_second_factor(user):
        return None
    return redirect_to_login(request.get_full_path(), reverse("admin:login"))


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate,
        allowed_hosts={request.get_host()},
        require_https=request.is_secure(),
    ):
        return candidate
    return reverse("admin:index")


def _with_next(url_name: str, next_url: str) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': next_url})}"


def _verified(request: HttpRequest, device) -> None:
    otp_login(request, device)
    # New privileges, new session id and CSRF token (both were handed out
    # before the second factor), as django.contrib.auth.login does.
    request.session.cycle_key()
    rotate_token(request)


def _render(request: HttpRequest, template: str, context: dict, status: int):
    context = {**admin.site.each_context(request), **context}
    return render(request, template, context, status=status)


def _apply_outcome(form: OtpTokenForm, outcome: OtpOutcome) -> int:
    if outcome == OtpOutcome.THROTTLED:
        form.add_error("token", _(MSG_THROTTLED))
        return 429
    form.add_error("token", _(MSG_WRONG_CODE))
    return 400


@never_cache
@sensitive_post_parameters("token")
def otp_verify(request: HttpRequest) -> HttpResponse:
    if (response := _not_staff(request)) is not None:
        return response
    next_url = _next_url(request)
    if user_otp_verified(request.user):
        return redirect(next_url)
    if not user_has_device(request.user, confirmed=True):
        return redirect(_with_next("admin:otp_setup", next_url))
    status = 200
    if request.method == "POST":
        form = OtpTokenForm(request.POST)
        if form.is_valid():
            check = staff_totp_check(
                user=request.user, token=form.cleaned_data["token"]
            )
            if check.outcome == OtpOutcome.VERIFIED:
                _verified(request, check.device)
                return redirect(next_url)
            if check.outcome == OtpOutcome.NO_DEVICE:  # reset meanwhile
                return redirect(_with_next("admin:otp_setup", next_url))
            status = _apply_outcome(form, check.outcome)
        else:
            status = 400
    else:
        form = OtpTokenForm()
    return _render(
        request,
        "admin/otp_verify.html",
        {"form": form, "next": next_url, "title": _("两步验证")},
        status,
    )


@never_cache
@sensitive_post_parameters("token")
def otp_setup(request: HttpRequest) -> HttpResponse:
    import segno

    if (response := _not_staff(request)) is not None:
        return response
    next_url = _next_url(request)
    if user_otp_verified(request.user):
        return redirect(next_url)
    if user_has_device(request.user, confirmed=True):
        return redirect(_with_next("admin:otp_verify", next_url))
    device = staff_totp_enrollment_start(user=request.user)
    status = 200
    if request.method == "POST":
        form = OtpTokenForm(request.POST)
        if form.is_valid():
            check = staff_totp_check(
                user=request.user, token=form.cleaned_data["token"], enrolling=True
            )
            if check.outcome == OtpOutcome.VERIFIED:
                _verified(request, check.device)
                messages.success(
                    request, _("两步验证已启用,以后每次登录都需要动态验证码。")
                )
                return redirect(next_url)
            status = _apply_outcome(form, check.outcome)
        else:
            status = 400
    else:
        form = OtpTokenForm()
    secret = b32encode(device.bin_key).decode("ascii")
    qr_svg = segno.make(device.config_url, error="m").svg_inline(
        scale=4, dark="#000", light="#fff", omitsize=True
    )
    return _render(
        request,
        "admin/otp_setup.html",
        {
            "form": form,
            "next": next_url,
            "title": _("启用两步验证"),
            "qr_svg": qr_svg,
            "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
            "issuer": settings.OTP_TOTP_ISSUER,
            "account": request.user.get_username(),
        },
        status,
    )
