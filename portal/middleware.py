from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed

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


# The methods the portal answers; TRACE/TRACK (cross-site tracing), CONNECT and
# anything unknown get 405 before any view (security.md DJ6).
ALLOWED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_ALLOWED = frozenset(ALLOWED_METHODS)


class AllowedMethodsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in _ALLOWED:
            return HttpResponseNotAllowed(ALLOWED_METHODS)
        return self.get_response(request)


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


def _stamp_login_time(sender, request, user, **kwargs) -> None:
    """user_logged_in: when this session's login happened (the absolute limit)."""
    import time

    session = getattr(request, "session", None)
    if session is not None:
        now = int(time.time())
        session[SessionIdleTimeoutMiddleware.LOGIN_AT] = now
        session[SessionIdleTimeoutMiddleware.KEY] = now  # a login is activity


class SessionIdleTimeoutMiddleware:
    """End a session after inactivity: 15 minutes for staff, 30 for workers,
    and in any case SESSION_COOKIE_AGE (8 hours) after its login (security.md
    SE3).

    The absolute limit is kept here, from the login time stored in the session:
    Django moves a session's expiry (row and cookie) forward whenever the
    session is saved, so SESSION_COOKIE_AGE alone would let an active session
    live for ever. A session from before this rule has no login time; it is
    counted from its first request after it.

    The activity time is written at most once a minute (a request that changes
    nothing else then saves no session row), so an idle session may end up to
    a minute early."""

    KEY = "_last_activity"
    LOGIN_AT = "_login_at"
    WRITE_EVERY = 60

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        from django.contrib.auth.signals import user_logged_in

        self.get_response = get_response
        user_logged_in.connect(
            _stamp_login_time, dispatch_uid="portal.session_login_time"
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        import time

        from django.contrib.auth import logout

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            session = request.session
            now = int(time.time())
            limit = (
                settings.SESSION_IDLE_TIMEOUT_STAFF
                if user.is_staff
                else settings.SESSION_IDLE_TIMEOUT_WORKER
            )
            login_at = session.get(self.LOGIN_AT)
            last = session.get(self.KEY)
            expired = login_at is not None and (
                now - int(login_at) > settings.SESSION_COOKIE_AGE
            )
            if expired or (last is not None and now - int(last) > limit):
                logout(request)
            else:
                if login_at is None:
                    session[self.LOGIN_AT] = now
                if last is None or now - int(last) >= self.WRITE_EVERY:
                    session[self.KEY] = now
        return self.get_response(request)
