"""Staff sessions are usable only after the TOTP step (security.md AU4); a
session whose user was deactivated ends (SE4); page refusals are audited (LG1)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from members.mfa import otp_step_redirect, staff_needs_otp

logger = logging.getLogger(__name__)


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


class EndedSessionMiddleware:
    """Flush a session whose user no longer authenticates (security.md SE4).

    Django's `get_user` makes such a request anonymous (an inactive user:
    `ModelBackend.get_user` returns None; a deleted one: no row) but leaves the
    session's data in place, so reactivating the account would bring the old
    session back. This ends it at its first request after the deactivation: the
    row is deleted and the cookie cleared. Runs after AuthenticationMiddleware;
    costs no query (the user is loaded for every signed-in request anyway)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.contrib.auth import SESSION_KEY

        session = getattr(request, "session", None)
        if session is not None and SESSION_KEY in session:
            user = getattr(request, "user", None)
            if user is not None and not user.is_authenticated:
                session.flush()
        return self.get_response(request)


class AuthorizationDenialAuditMiddleware:
    """Every 403 a signed-in user gets on a page leaves an `authz_denied` audit
    row (security.md LG1): a reviewer opening another union's page or an action
    without the permission, a worker posting someone else's form. The platform
    API audits its own denials (members.api_auth) and is skipped here; anonymous
    403s (mostly CSRF failures on the login form) are not users being refused."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 403 and not request.path_info.startswith("/api/"):
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                self._audit(request, user)
        return response

    @staticmethod
    def _audit(request: HttpRequest, user) -> None:
        from django.db import DatabaseError

        from members.audit import audit_record
        from members.models import AuditLog

        try:
            audit_record(
                action="authz_denied",
                actor=user,
                outcome=AuditLog.Outcome.DENIED,
                detail={"path": request.path[:200], "method": request.method},
            )
        except DatabaseError:
            # The refusal stands; the missing row is an error in the log.
            logger.exception("authorisation denial not audited")
