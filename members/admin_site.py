"""The admin site with the staff TOTP step (security.md AU4).

`PortalAdminConfig` replaces `django.contrib.admin` in INSTALLED_APPS, so
`admin.site` and every `@admin.register` use `PortalAdminSite`. Like django-otp's
`OTPAdminSite`, the site grants access only to a session that passed the TOTP
step (`request.user.is_verified()`, set by `django_otp.middleware.OTPMiddleware`).
Unlike `OTPAdminSite`, the password and the code are separate steps: the
password form stays Django's (authenticated through django-axes), then the
session goes to `admin:otp_verify`, or `admin:otp_setup` for a staff member
without a confirmed device. Both views live in `members/views_mfa.py`.

Every admin registered on the site writes an audit row for each addition, change
and deletion (security.md LG1): `register` wraps the admin class with
`members.admin_audit.AuditedAdminMixin`, so no admin has to opt in.
"""

from __future__ import annotations

from django.contrib.admin import AdminSite, ModelAdmin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse
from django.urls import path

from members.admin_audit import audited
from members.mfa import (
    needs_second_factor,
    otp_step_redirect,
    staff_needs_otp,
    user_otp_verified,
)


class PortalAdminSite(AdminSite):
    site_header = "工会会员服务门户 · 管理后台"
    site_title = "工会管理后台"
    index_title = "业务管理"

    @property
    def login_form(self):
        """The password form with the login rate limits before the hash
        (members/login_rate.py); imported late: this module loads with the apps."""
        from members.forms import StaffLoginForm

        return StaffLoginForm

    def register(self, model_or_iterable, admin_class=None, **options):
        """As AdminSite.register, with AuditedAdminMixin first in the admin
        class's MRO (members/admin_audit.py)."""
        super().register(
            model_or_iterable, audited(admin_class or ModelAdmin), **options
        )

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and user_otp_verified(request.user)

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        """The password step. A staff session that already passed it goes on to
        the TOTP step; a successful password login always starts unverified."""
        if staff_needs_otp(request.user):
            return otp_step_redirect(request.GET.get("next", ""))
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        if request.method == "POST" and form is not None:
            from members.login_rate import apply_limit_status

            apply_limit_status(response, form)
        if (
            request.method == "POST"
            and response.status_code == 302
            and request.user.is_authenticated
        ):
            from django_otp import DEVICE_ID_SESSION_KEY

            request.session.pop(DEVICE_ID_SESSION_KEY, None)
            if needs_second_factor(request.user):
                return otp_step_redirect(response["Location"])
        return response

    def password_change(self, request: HttpRequest, extra_context=None):
        """Django's view with StaffPasswordChangeForm (rate limited, audited);
        a refused attempt answers 429 / 503 with Retry-After."""
        from django.contrib.auth.views import PasswordChangeView
        from django.urls import reverse

        from members.forms import StaffPasswordChangeForm
        from members.login_rate import apply_limit_status

        request.current_app = self.name
        response = PasswordChangeView.as_view(
            form_class=StaffPasswordChangeForm,
            success_url=reverse("admin:password_change_done", current_app=self.name),
            extra_context={**self.each_context(request), **(extra_context or {})},
        )(request)
        form = (getattr(response, "context_data", None) or {}).get("form")
        if request.method == "POST" and form is not None:
            apply_limit_status(response, form)
        return response

    def get_urls(self):
        from members import views_mfa

        return [
            path("otp/", views_mfa.otp_verify, name="otp_verify"),
            path("otp/setup/", views_mfa.otp_setup, name="otp_setup"),
            *super().get_urls(),
        ]


class PortalAdminConfig(AdminConfig):
    default_site = "members.admin_site.PortalAdminSite"
