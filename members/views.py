from __future__ import annotations

import json
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import DEVICE_ID_SESSION_KEY

from members.actions.accounts import (
    MSG_OTP_TOO_MANY_SENDS,
    OtpRateLimited,
    otp_send,
    worker_register,
)
from members.actions.joining import application_submit, consent_withdraw
from members.actions.people import data_request_create, personal_data_export
from members.actions.worker_mfa import (
    MSG_CODE_SENT,
    MSG_SMS_FAILED,
    SmsSendFailed,
    worker_sms_code_send,
    worker_trusted_device_login,
)
from members.forms import DataRequestForm, JoinForm, LoginForm, RegisterForm
from members.login_rate import apply_limit_status
from members.mfa import needs_second_factor, otp_step_redirect
from members.models import (
    ApplicationStatus,
    DataRequestKind,
    MemberStatus,
    OtpPurpose,
)
from members.notices import SENSITIVE_PI_JOIN_NOTICE, SENSITIVE_PI_JOIN_NOTICE_VERSION
from members.selectors.joining import (
    application_get_for_user,
    consents_for_user,
    data_requests_for_user,
    membership_events_for_user,
    region_code_warnings,
    region_name,
)
from members.selectors.people import member_get_for_user
from members.sms import SmsError
from members.views_account import MSG_UNAVAILABLE
from members.worker_mfa import (
    DeviceState,
    code_binding,
    needs_sms_factor,
    new_device_id,
    pending_clear,
    pending_start,
    sms_step_up_required,
    step_up_mark,
    trusted_device_check,
    trusted_device_set,
)
from portal.exceptions import ApplicationError
from portal.middleware import client_ip
from portal.throttling import ThrottleUnavailable, rate_limit_wait


class LoginView(auth_views.LoginView):
    template_name = "members/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        # 429/503 when the login rate limits refused the attempt (login_rate.py)
        return apply_limit_status(super().form_invalid(form), form)

    def form_valid(self, form):
        user = form.get_user()
        if needs_sms_factor(user):
            # Workers (AU4): the password alone logs in only on a trusted device.
            check = trusted_device_check(self.request, user)
            if check.state != DeviceState.TRUSTED:
                return self._sms_step(form, user, check.state)
            worker_trusted_device_login(user=user, device=check.device)
        response = super().form_valid(form)
        # Every password login starts without a second factor (security.md AU4);
        # staff go on to the TOTP step; a worker got here on a trusted device.
        self.request.session.pop(DEVICE_ID_SESSION_KEY, None)
        if needs_second_factor(form.get_user()):
            next_url = self.get_redirect_url() or reverse("admin:index")
            return otp_step_redirect(next_url)
        return response

    def _sms_step(self, form, user, device_state: DeviceState) -> HttpResponse:
        """Keep the user pending in the (still anonymous) session, send a code to
        the account's phone and go to the code page; nothing is logged in yet."""
        request = self.request
        pending_start(
            request,
            user=user,
            backend=user.backend,
            next_url=self.get_redirect_url()
            or resolve_url(settings.LOGIN_REDIRECT_URL),
        )
        try:
            worker_sms_code_send(
                user=user,
                purpose=OtpPurpose.LOGIN,
                detail={"device": str(device_state)},
                binding=code_binding(request),
            )
        except OtpRateLimited as exc:
            messages.error(request, _(exc.message))
        except SmsSendFailed as exc:
            if exc.code == "no_phone":
                pending_clear(request)
                form.add_error(None, _(exc.message))
                return self.form_invalid(form)
            messages.error(request, _(exc.message))
        else:
            messages.info(request, _(MSG_CODE_SENT))
        return redirect("members:login_verify")


def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "members/privacy.html")


def _register_send_allowed(request: HttpRequest) -> None:
    """Anonymous code requests per client address (settings.REGISTER_SMS_RATE):
    one address cannot spray registration codes over many numbers."""
    wait = rate_limit_wait(
        scope="register_sms",
        ident=client_ip(request) or "unknown",
        rate=settings.REGISTER_SMS_RATE,
    )
    if wait is not None:
        raise OtpRateLimited(MSG_OTP_TOO_MANY_SENDS, code="otp_rate_limited")


@sensitive_post_parameters("phone", "code", "password1", "password2")
def register(request: HttpRequest) -> HttpResponse:
    """Phone + SMS code + password. "获取验证码" and "注册" post the same form."""
    if request.user.is_authenticated:
        return redirect("members:me")
    status = 200
    code_sent = False
    if request.method == "POST":
        sending = request.POST.get("action") == "send_code"
        form = RegisterForm(request.POST, sending=sending)
        if form.is_valid():
            phone = form.cleaned_data["phone"]
            try:
                if sending:
                    _register_send_allowed(request)
                    otp_send(phone=phone, purpose=OtpPurpose.REGISTER)
                    code_sent = True
                    messages.info(request, _(MSG_CODE_SENT))
                else:
                    device = new_device_id()
                    user = worker_register(
                        phone=phone,
                        code=form.cleaned_data["code"],
                        password=form.cleaned_data["password1"],
                        device=device,
                    )
                    login(request, user, backend="members.auth.PhoneBackend")
                    # The code just proved the phone on this browser (AU4).
                    step_up_mark(request)
                    messages.success(request, _("注册成功。"))
                    response = redirect("members:join")
                    trusted_device_set(response, user, device=device)
                    return response
            except OtpRateLimited as exc:
                form.add_error(None, _(exc.message))
                status = 429
            except ThrottleUnavailable:  # the per-address counter's Redis is down
                form.add_error(None, _(MSG_UNAVAILABLE))
                status = 503
            except (SmsError, OSError):
                # The gateway failed; the code's row rolled back, so the attempt
                # does not count against the hourly limit.
                form.add_error(None, _(MSG_SMS_FAILED))
                status = 503
            except ApplicationError as exc:
                form.add_error("code" if "otp" in exc.code else None, _(exc.message))
            except ValidationError as exc:
                form.add_error("password1", exc)
        code_sent = code_sent or bool(request.POST.get("code_sent"))
    else:
        form = RegisterForm()
    return render(
        request,
        "members/register.html",
        {"form": form, "code_sent": code_sent},
        status=status,
    )


def _worker_only(request: HttpRequest) -> None:
    if request.user.is_staff:
        raise Http404


@sensitive_post_parameters("name", "id_number", "hukou_county")
@login_required
def join(request: HttpRequest) -> HttpResponse:
    _worker_only(request)
    application = application_get_for_user(user=request.user)
    if application is not None and application.status == ApplicationStatus.APPROVED:
        messages.info(request, _("你已入会。"))
        return redirect("members:me")
    member = member_get_for_user(user=request.user)
    if member is not None and member.status == MemberStatus.ACTIVE:
        return redirect("members:me")
    if request.method == "POST":
        form = JoinForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                application_submit(
                    user=request.user,
                    name=data["name"],
                    id_number=data["id_number"],
                    occupation=data["occupation"],
                    employment_category=data["employment_category"],
                    hukou_county=data["hukou_county"],
                    residence_county=data["residence_county"],
                    platforms=data["platforms"],
                    org=data["org"],
                    consent_notice_version=SENSITIVE_PI_JOIN_NOTICE_VERSION,
                )
            except ApplicationError as exc:
                form.add_error(None, _(exc.message))
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                today = timezone.localdate()
                for warning in region_code_warnings(
                    code=data["hukou_county"], today=today
                ):
                    messages.warning(request, warning)
                messages.success(request, _("入会申请已提交,请等待工会审核。"))
                return redirect("members:me")
    else:
        initial = {}
        if application is not None:
            initial = {
                "name": application.name,
                "occupation": application.occupation,
                "employment_category": application.employment_category,
                "hukou_county": application.hukou_county,
                "residence_county": application.residence_county,
                "platforms": list(application.platforms.all()),
                "org": application.org,
            }
        form = JoinForm(initial=initial)
    return render(
        request,
        "members/join.html",
        {
            "form": form,
            "application": application,
            "phone_masked": request.user.phone_masked,
            "notice": SENSITIVE_PI_JOIN_NOTICE,
        },
    )


@login_required
def me(request: HttpRequest) -> HttpResponse:
    member = member_get_for_user(user=request.user)
    application = application_get_for_user(user=request.user)
    return render(
        request,
        "members/me.html",
        {
            "member": member,
            "application": application,
            "hukou_name": region_name(code=member.hukou_county) if member else "",
            "events": membership_events_for_user(user=request.user)[:50],
            "consents": consents_for_user(user=request.user),
            "data_requests": data_requests_for_user(user=request.user),
            "data_request_form": DataRequestForm(),
        },
    )


@login_required
def card(request: HttpRequest) -> HttpResponse:
    """The electronic member card: only the signed-in worker's own, only when
    the membership is active. The QR code carries the card number and masked
    values, rendered on the server as inline SVG."""
    import segno

    member = member_get_for_user(user=request.user)
    if member is None or member.status != MemberStatus.ACTIVE:
        raise Http404
    payload = (
        f"GHCARD|{member.member_no}|{member.name_masked}|{member.id_number_masked}"
    )
    qr_svg = segno.make(payload, error="m").svg_inline(
        scale=4, dark="#000", light="#fff", omitsize=True
    )
    return render(request, "members/card.html", {"member": member, "qr_svg": qr_svg})


@login_required
@require_http_methods(["GET", "POST"])
@sms_step_up_required
def export(request: HttpRequest) -> HttpResponse:
    """The full copy of the worker's own data (unmasked ID number and phone):
    only after a fresh SMS code (AU4). GET shows the download button."""
    if request.method != "POST":
        return render(request, "members/export.html")
    data = personal_data_export(user=request.user)
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="my-data.json"'
    response["Cache-Control"] = "no-store"
    return response


def _data_request_resume(request: HttpRequest) -> str:
    """Back from the step-up page to the request form, the chosen kind kept."""
    url = reverse("members:data_request")
    kind = request.POST.get("kind")
    if kind in (
        DataRequestKind.DELETION,
        DataRequestKind.WITHDRAWAL,
        DataRequestKind.EXPLANATION,
    ):
        url = f"{url}?{urlencode({'kind': kind})}"
    return url


@sensitive_post_parameters("note")
@login_required
@require_http_methods(["GET", "POST"])
@sms_step_up_required(resume=_data_request_resume)
def data_request(request: HttpRequest) -> HttpResponse:
    """Deletion and withdrawal requests change or erase data: only after a
    fresh SMS code (AU4). GET shows the form (also on /me/)."""
    _worker_only(request)
    if request.method != "POST":
        form = DataRequestForm(initial={"kind": request.GET.get("kind")})
        return render(
            request,
            "members/data_request.html",
            {"form": form, "data_requests": data_requests_for_user(user=request.user)},
        )
    form = DataRequestForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "members/data_request.html",
            {"form": form, "data_requests": data_requests_for_user(user=request.user)},
            status=400,
        )
    try:
        data_request_create(
            user=request.user,
            kind=form.cleaned_data["kind"],
            note=form.cleaned_data["note"],
        )
    except ApplicationError as exc:
        messages.error(request, _(exc.message))
    else:
        messages.success(request, _("申请已提交,工作人员会在15个工作日内处理。"))
    return redirect("members:me")


@login_required
@require_POST
def consent_withdraw_view(request: HttpRequest, consent_id: int) -> HttpResponse:
    consent = get_object_or_404(consents_for_user(user=request.user), pk=consent_id)
    consent_withdraw(user=request.user, consent=consent)
    messages.success(request, _("已撤回同意。待审核的入会申请已停止处理。"))
    return redirect("members:me")
