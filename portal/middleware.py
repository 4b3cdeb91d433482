from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from portal import request_context

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9-]{8,64}$")


def client_ip(request: HttpRequest) -> str | None:
    """The client address, trusting X-Forwarded-For only for PROXY_COUNT hops."""
    proxies = int(getattr(settings, "REST_FRAMEWORK", {}).get("NUM_PROXIES") or 0)
    if proxies:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


class RequestContextMiddleware:
    """Tag every request with an id (echoed as X-Request-ID) for logs and audit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_context.set_current(
            request_context.RequestContext(request_id=request_id, ip=client_ip(request))
        )
        try:
            response = self.get_response(request)
        finally:
            request_context.reset(token)
        response["X-Request-ID"] = request_id
        return response


class NoStoreMiddleware:
    """Pages for signed-in users and every API answer may hold personal data:
    browsers and proxies must not keep them (security.md DJ8)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        signed_in = bool(user is not None and user.is_authenticated)
        if (signed_in or request.path.startswith("/api/")) and not response.has_header(
            "Cache-Control"
        ):
            response["Cache-Control"] = "no-store"
        return response


class HttpsOnlyApiMiddleware:
    """Browser paths are redirected to HTTPS by SecurityMiddleware; the API is
    refused instead, so a key sent over plain HTTP fails loudly (security.md DJ4)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            settings.SECURE_SSL_REDIRECT
            and request.path.startswith("/api/")
            and not request.is_secure()
        ):
            from django.http import JsonResponse

            return JsonResponse({"detail": "HTTPS is required."}, status=403)
        return self.get_response(request)


class SessionIdleTimeoutMiddleware:
    """End a session after inactivity: 15 minutes for staff, 30 for workers
    (security.md SE3). SESSION_COOKIE_AGE is the absolute limit."""

    KEY = "_last_activity"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        import time

        from django.contrib.auth import logout

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(time.time())
            limit = (
                settings.SESSION_IDLE_TIMEOUT_STAFF
                if user.is_staff
                else settings.SESSION_IDLE_TIMEOUT_WORKER
            )
            last = request.session.get(self.KEY)
            if last is not None and now - int(last) > limit:
                logout(request)
            else:
                request.session[self.KEY] = now
        return self.get_response(request)
