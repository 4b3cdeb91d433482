"""Staff sessions are usable only after the TOTP step (security.md AU4)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from members.mfa import otp_step_redirect, staff_needs_otp


class StaffOtpRequiredMiddleware:
    """Send a staff session without a verified TOTP device to the TOTP step,
    whatever page it asks for. The admin site checks verification itself
    (`PortalAdminSite.has_permission`) and the API answers 403
    (`OtpSessionAuthentication`); this catches every other page, such as the
    staff inbox. Workers are never affected. Runs after OTPMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if staff_needs_otp(getattr(request, "user", None)) and not self._exempt(
            request.path_info
        ):
            return otp_step_redirect(request.get_full_path())
        return self.get_response(request)

    @staticmethod
    def _exempt(path: str) -> bool:
        if path.startswith(("/api/", settings.STATIC_URL)):
            return True  # the API answers 403 itself; static files are public
        return path in {
            reverse("admin:otp_verify"),
            reverse("admin:otp_setup"),
            reverse("admin:login"),
            reverse("members:logout"),
            reverse("set_language"),
            reverse("healthz"),
        }
