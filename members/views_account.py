"""A worker's account security pages (security.md AU4, AU5, AU7, AU8):
`/password/forgot/` (anonymous: an SMS code to the registered phone, then a new
password), `/me/password/` and `/me/phone/` (signed in, after an SMS code at
most five minutes old). The work is in members/actions/account_security.py."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from members.actions.account_security import (
    password_change as password_change_action,
)
from members.actions.account_security import (
    password_reset_code_send,
    password_reset_confirm,
    phone_change_code_send,
    phone_change_confirm,
)
from members.actions.accounts import MSG_OTP_TOO_MANY_SENDS, OtpRateLimited
from members.actions.worker_mfa import MSG_CODE_SENT, SmsSendFailed
from members.forms import PasswordChangeForm, PasswordForgotForm, PhoneChangeForm
from members.worker_mfa import (
    BINDING_KEY,
    DeviceState,
    code_binding,
    needs_sms_factor,
    sms_step_up_required,
    trusted_device_check,
    trusted_device_set,
)
from portal.exceptions import ApplicationError
from portal.masking import mask_phone
from portal.middleware import client_ip
from portal.throttling import ThrottleUnavailable, rate_limit_wait

# AU8: a password or phone change wants an SMS code from the last 5 minutes.
ACCOUNT_CHANGE_STEP_UP_SECONDS = 300

MSG_TOO_MANY_TRIES = gettext_noop("尝试次数过多,请稍后再试。")
# The throttle's Redis did not answer (portal.throttling): 503, never a 500.
MSG_UNAVAILABLE = gettext_noop("服务暂时不可用,请稍后再试。")


def _limited(*, scope: str, ident: str, rate: str) -> bool:
    return rate_limit_wait(scope=scope, ident=ident, rate=rate) is not None


def _worker_only(request: HttpRequest) -> None:
    """Staff change their password in the admin and have no phone login."""
    if not needs_sms_factor(request.user):
        raise Http404


def _check_send_limit(*, scope: str, ident: str, rate: str) -> None:
    """A page's own limit on code requests, before the per-number quota."""
    if _limited(scope=scope, ident=ident, rate=rate):
        raise OtpRateLimited(MSG_OTP_TOO_MANY_SENDS, code="otp_rate_limited")


def _code_or_form_error(form, exc: ApplicationError | ThrottleUnavailable) -> int:
    """A failed send or confirm as a form error on the field it is about; the
    status: too many sends 429, gateway or throttle store down 503, a locked
    code 429, anything else 400."""
    if isinstance(exc, ThrottleUnavailable):
        form.add_error(None, _(MSG_UNAVAILABLE))
        return 503
    if isinstance(exc, OtpRateLimited | SmsSendFailed):
        form.add_error(None, _(exc.message))
        return 429 if isinstance(exc, OtpRateLimited) else 503
    if exc.code.startswith("otp"):
        form.add_error("code", _(exc.message))
        return 429 if exc.code == "otp_locked" else 400
    if exc.code in ("phone_taken", "same_phone"):
        form.add_error("phone", _(exc.message))
    else:
        form.add_error(None, _(exc.message))
    return 400


@never_cache
@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("phone", "code", "password1", "password2")
def password_forgot(request: HttpRequest) -> HttpResponse:
    """忘记密码: phone first. "获取验证码" answers the same whether or not the
    number has an account (AU7); "重置密码" needs the code sent to it, in this
    browser session."""
    if request.user.is_authenticated:
        if needs_sms_factor(request.user):
            return redirect("members:password_change")
        return redirect("admin:password_change")
    status = 200
    code_sent = False
    if request.method == "POST":
        sending = request.POST.get("action") == "send_code"
        form = PasswordForgotForm(request.POST, sending=sending)
        if not form.is_valid():
            status = 400
        else:
            phone = form.cleaned_data["phone"]
            try:
                if sending:
                    # per client address first: one address cannot spray codes
                    _check_send_limit(
                        scope="password_reset_sms",
                        ident=client_ip(request) or "unknown",
                        rate=settings.PASSWORD_RESET_SMS_RATE,
                    )
                    password_reset_code_send(phone=phone, binding=code_binding(request))
                    code_sent = True
                    messages.info(request, _(MSG_CODE_SENT))
                else:
                    password_reset_confirm(
                        phone=phone,
                        code=form.cleaned_data["code"],
                        password=form.cleaned_data["password1"],
                        binding=code_binding(request),
                    )
                    request.session.pop(BINDING_KEY, None)
                    messages.success(
                        request,
                        _("密码已重置,其他设备上的登录已退出。请用新密码登录。"),
                    )
                    return redirect("members:login")
            except (ApplicationError, ThrottleUnavailable) as exc:
                status = _code_or_form_error(form, exc)
            except ValidationError as exc:
                form.add_error("password1", exc)
                status = 400
        code_sent = code_sent or bool(request.POST.get("code_sent"))
    else:
        form = PasswordForgotForm()
    return render(
        request,
        "members/password_forgot.html",
        {"form": form, "code_sent": code_sent},
        status=status,
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
@sms_step_up_required(max_age=ACCOUNT_CHANGE_STEP_UP_SECONDS)
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
def password_change(request: HttpRequest) -> HttpResponse:
    """修改密码: the current password and a fresh SMS code (AU8). Afterwards
    this session gets a new key and stays signed in; every other session and
    every other browser's trusted-device cookie stop working."""
    _worker_only(request)
    user = request.user
    status = 200
    if request.method == "POST":
        form = PasswordChangeForm(request.POST)
        try:
            limited = _limited(
                scope="password_change",
                ident=str(user.pk),
                rate=settings.PASSWORD_CHANGE_RATE,
            )
        except ThrottleUnavailable:
            limited = None
        if limited is None:  # not counted: no password is hashed either (AU3)
            form = PasswordChangeForm()
            messages.error(request, _(MSG_UNAVAILABLE))
            status = 503
        elif limited:
            # before the current password is hashed (AU3)
            form = PasswordChangeForm()
            messages.error(request, _(MSG_TOO_MANY_TRIES))
            status = 429
        elif not form.is_valid():
            status = 400
        else:
            device = trusted_device_check(request, user)
            try:
                password_change_action(
                    user=user,
                    old_password=form.cleaned_data["old_password"],
                    new_password=form.cleaned_data["new_password1"],
                )
            except ApplicationError as exc:
                form.add_error("old_password", _(exc.message))
                status = 400
            except ValidationError as exc:
                form.add_error("new_password1", exc)
                status = 400
            else:
                # A new session key, stamped with the new password (SE2, SE4).
                update_session_auth_hash(request, user)
                messages.success(request, _("密码已修改,其他设备上的登录已退出。"))
                response = redirect("members:me")
                if device.state == DeviceState.TRUSTED:
                    # This browser stays trusted (its old cookie died with the
                    # old password); the others need a code again.
                    trusted_device_set(response, user, device=device.device)
                return response
    else:
        form = PasswordChangeForm()
    return render(
        request, "members/password_change.html", {"form": form}, status=status
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
@sms_step_up_required(max_age=ACCOUNT_CHANGE_STEP_UP_SECONDS)
@sensitive_post_parameters("phone", "code")
def phone_change(request: HttpRequest) -> HttpResponse:
    """更换手机号: after a fresh code to the current phone (AU8), a code to the
    new number proves it (BR-V7); the old number is told."""
    _worker_only(request)
    user = request.user
    status = 200
    code_sent = False
    if request.method == "POST":
        sending = request.POST.get("action") == "send_code"
        form = PhoneChangeForm(request.POST, sending=sending)
        if not form.is_valid():
            status = 400
        else:
            phone = form.cleaned_data["phone"]
            try:
                if sending:
                    _check_send_limit(
                        scope="phone_change_sms",
                        ident=str(user.pk),
                        rate=settings.PHONE_CHANGE_SMS_RATE,
                    )
                    phone_change_code_send(
                        user=user, new_phone=phone, binding=code_binding(request)
                    )
                    code_sent = True
                    messages.info(request, _(MSG_CODE_SENT))
                else:
                    device = trusted_device_check(request, user)
                    phone_change_confirm(
                        user=user,
                        new_phone=phone,
                        code=form.cleaned_data["code"],
                        binding=code_binding(request),
                    )
                    # A new session key, stamped with the new session epoch: the
                    # account's other sessions end (SE2, SE4).
                    update_session_auth_hash(request, user)
                    messages.success(
                        request,
                        _(
                            "手机号已更换为 %(phone)s,以后请用新手机号登录;"
                            "其他设备上的登录已退出。"
                        )
                        % {"phone": mask_phone(phone)},
                    )
                    response = redirect("members:me")
                    if device.state == DeviceState.TRUSTED:
                        # This browser stays trusted; the others need a code.
                        trusted_device_set(response, user, device=device.device)
                    return response
            except (ApplicationError, ThrottleUnavailable) as exc:
                status = _code_or_form_error(form, exc)
        code_sent = code_sent or bool(request.POST.get("code_sent"))
    else:
        form = PhoneChangeForm()
    return render(
        request,
        "members/phone_change.html",
        {"form": form, "code_sent": code_sent, "phone_masked": user.phone_masked},
        status=status,
    )
