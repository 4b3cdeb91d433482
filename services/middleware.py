"""The lean request path for GET /api/v1/stations/ (public, anonymous, read-only).

Placed right after SecurityMiddleware, HttpsOnlyApiMiddleware, WhiteNoise and
RequestContextMiddleware, so the answer still gets HSTS / nosniff / referrer
policy / COOP (SecurityMiddleware), is refused over plain HTTP in production
(HttpsOnlyApiMiddleware) and carries X-Request-ID; Django's handler still logs
4xx/5xx by path (never the query string, which holds a position). It skips the
session, locale, CSRF, auth, messages, CSP, htmx, no-store and axes middleware and
DRF's dispatch: about 40 % of the request's CPU on the benchmark. It adds itself
what those would have added for this response: the language (Accept-Language or
the language cookie, as LocaleMiddleware), X-Frame-Options and a CSP for JSON.
Every other method (HEAD, OPTIONS, POST...) goes to the DRF view, which shares the
throttle, validation and payload code (services/apis/stations.py).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers

JSON_CSP = "default-src 'none'; frame-ancestors 'none'"


class StationsApiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self._path: str | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._path is None:
            self._path = reverse("services-api:stations")
        if request.method != "GET" or request.path != self._path:
            return self.get_response(request)
        from services.apis.stations import fast_response

        # The host check CommonMiddleware would make (400 for a Host outside
        # ALLOWED_HOSTS, security.md DJ3), even when no row needs an absolute URL.
        request.get_host()
        language = translation.get_language_from_request(request)
        with translation.override(language):
            response = fast_response(request)
        response["Allow"] = "GET, HEAD, OPTIONS"
        response["Content-Language"] = language
        patch_vary_headers(response, ("Accept-Language",))
        response["X-Frame-Options"] = "DENY"
        response["Content-Security-Policy"] = JSON_CSP
        return response
