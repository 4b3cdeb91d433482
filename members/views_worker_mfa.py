"""Workers' SMS second factor (security.md AU4): `login_verify` finishes a
password login on a new device, `step_up` gives a signed-in worker a fresh code
before a sensitive reveal or change. The state they use lives in
members/worker_mfa.py."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from members.actions.accounts import MSG_OTP_INVALID, MSG_OTP_LOCKED, OtpRateLimited
from members.actions.worker_mfa import (
    MSG_CODE_SENT,
    SmsCheck,
    SmsSendFailed,
    worker_sms_code_check,
    worker_sms_code_send,
)
from members.forms import SmsCodeForm
from members.models import OtpPurpose
from members.worker_mfa import (
    PendingState,
    code_binding,
    needs_sms_factor,
    new_device_id,
    pending_clear,
    pending_get,
    safe_next,
    step_up_mark,
    trusted_device_set,
)

MSG_PENDING_EXPIRED = gettext_noop("验证已超时,请重新输入手机号和密码。")
MSG_PENDING_MISSING = gettext_noop("请先输入手机号和密码登录。")


def send_code(request: HttpRequest, *, user, purpose: str, detail: dict) -> int:
    """Send a code and say so in a message; the HTTP status for the page."""
    try:
        worker_sms_code_send(
            user=user, purpose=purpose, detail=detail, binding=code_binding(request)
        )
    except OtpRateLimited as exc:
        messages.error(request, _(exc.message))
        return 429
    except SmsSendFailed as exc:
        messages.error(request, _(exc.message))
        return 503 if exc.code == "sms_error" else 400
    messages.info(request, _(MSG_CODE_SENT))
    return 200


def _code_error(form: SmsCodeForm, outcome: SmsCheck) -> int:
    if outcome == SmsCheck.LOCKED:
        form.add_error("code", _(MSG_OTP_LOCKED))
        return 429
    form.add_error("code", _(MSG_OTP_INVALID))
    return 400


@never_cache
@sensitive_post_parameters("code")
def login_verify(request: HttpRequest) -> HttpResponse:
    """The SMS step of a worker's login on a browser that is not trusted yet.
    The code was sent when the password was accepted (LoginView); "重新发送"
    sends another. The right code logs in (new session key and CSRF token),
    marks the session as freshly verified and trusts this browser."""
    pending = pending_get(request)
    if pending.state != PendingState.OK:
        if request.user.is_authenticated:
            return redirect(settings.LOGIN_REDIRECT_URL)
        message = (
            MSG_PENDING_MISSING
            if pending.state == PendingState.MISSING
            else MSG_PENDING_EXPIRED
        )
        messages.error(request, _(message))
        return redirect("members:login")
    user = pending.user
    status = 200
    form = SmsCodeForm()
    if request.method == "POST":
        if request.POST.get("action") == "send":
            status = send_code(
                request, user=user, purpose=OtpPurpose.LOGIN, detail={"resend": True}
            )
        else:
            form = SmsCodeForm(request.POST)
            if not form.is_valid():
                status = 400
            else:
                device = new_device_id()
                outcome = worker_sms_code_check(
                    user=user,
                    code=form.cleaned_data["code"],
                    purpose=OtpPurpose.LOGIN,
                    detail={"device": device},
                    binding=code_binding(request),
                )
                if outcome == SmsCheck.VERIFIED:
                    pending_clear(request)
                    # login() gives the session a new key and the CSRF token a
                    # new value (security.md SE2).
                    login(request, user, backend=pending.backend)
                    step_up_mark(request)
                    next_url = safe_next(
                        request,
                        pending.next_url,
                        resolve_url(settings.LOGIN_REDIRECT_URL),
                    )
                    response = redirect(next_url)
                    trusted_device_set(response, user, device=device)
                    return response
                status = _code_error(form, outcome)
    return render(
        request,
        "members/sms_verify.html",
        {
            "form": form,
            "title": _("新设备登录验证"),
            "intro": _(
                "这是你第一次在这台手机或浏览器上登录。为了确认是你本人,"
                "请输入短信验证码。验证后,这台设备以后登录只需要密码。"
            ),
            "phone_masked": user.phone_masked,
            "send_label": _("重新发送"),
            "pending_login": True,
        },
        status=status,
    )


@never_cache
@login_required
@sensitive_post_parameters("code")
def step_up(request: HttpRequest) -> HttpResponse:
    """A fresh SMS code before a sensitive reveal or change
    (`members.worker_mfa.sms_step_up_required`), then back to `next`."""
    next_url = safe_next(
        request,
        request.POST.get("next") or request.GET.get("next"),
        reverse("members:me"),
    )
    user = request.user
    if not needs_sms_factor(user):
        return redirect(next_url)  # staff: the session passed TOTP
    status = 200
    form = SmsCodeForm()
    if request.method == "POST":
        if request.POST.get("action") == "send":
            status = send_code(
                request, user=user, purpose=OtpPurpose.STEP_UP, detail={}
            )
        else:
            form = SmsCodeForm(request.POST)
            if not form.is_valid():
                status = 400
            else:
                outcome = worker_sms_code_check(
                    user=user,
                    code=form.cleaned_data["code"],
                    purpose=OtpPurpose.STEP_UP,
                    binding=code_binding(request),
                )
                if outcome == SmsCheck.VERIFIED:
                    request.session.cycle_key()
                    step_up_mark(request)
                    return redirect(next_url)
                status = _code_error(form, outcome)
    return render(
        request,
        "members/sms_verify.html",
        {
            "form": form,
            "title": _("短信验证"),
            "intro": _(
                "这一步会显示或更改你的个人信息。为了确认是你本人操作,"
                "请先获取并输入短信验证码。"
            ),
            "phone_masked": user.phone_masked,
            "send_label": _("获取验证码"),
            "next": next_url,
            "cancel_url": reverse("members:me"),
        },
        status=status,
    )
