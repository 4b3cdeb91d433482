from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe
from rest_framework.exceptions import NotFound

from portal.request_context import current

logger = logging.getLogger(__name__)


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def _check_database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True
    except Exception:
        logger.warning("healthz: database check failed", exc_info=True)
        return False


def _check_cache() -> bool:
    try:
        cache.set("healthz", "ok", 10)
        return cache.get("healthz") == "ok"
    except Exception:
        logger.warning("healthz: cache check failed", exc_info=True)
        return False


def _check_broker() -> str:
    if not settings.REDIS_URL:
        return "eager"  # the embedded default: tasks run in-process
    import redis

    try:
        client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1
        )
        client.ping()
        return "up"
    except Exception:
        logger.warning("healthz: broker check failed", exc_info=True)
        return "down"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness of the database, cache and broker. No versions, no personal data."""
    checks = {
        "database": "up" if _check_database() else "down",
        "cache": "up" if _check_cache() else "down",
        "broker": _check_broker(),
    }
    healthy = all(state in ("up", "eager") for state in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks},
        status=200 if healthy else 503,
    )


API_PREFIX = "/api/"


def error_404(request: HttpRequest, exception: Exception) -> HttpResponse:
    # API clients get JSON for every 404, also for a path no route matches
    # (e.g. /api/v1/enrollment-batches/abc/): the OpenAPI document promises it.
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            # DRF's own text, so it reads like every other API 404.
            {"detail": str(NotFound.default_detail)},
            status=404,
            json_dumps_params={"ensure_ascii": False},
        )
    return render(request, "404.html", status=404)


def error_500(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        # An API client gets JSON, with the request id to quote to the union;
        # never the exception (it is in the server log).
        ctx = current()
        return JsonResponse(
            {
                "detail": gettext("服务器内部错误,请稍后重试。"),
                "request_id": ctx.request_id if ctx else None,
            },
            status=500,
            json_dumps_params={"ensure_ascii": False},
        )
    # Rendered without a RequestContext: the failure may be in context processors.
    from django.template import loader

    return HttpResponse(loader.get_template("500.html").render(), status=500)


def error_403_csrf(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "403_csrf.html", status=403)
