"""Shared pieces of the gig-platform API: auth + throttling setup, the
Idempotency-Key protocol, a hardened JSON parser and CSV cells."""

from __future__ import annotations

import hashlib
import json
import logging
import re

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from members.actions.api_keys import platform_key_use_record
from members.api_auth import IsPlatform, PlatformKeyAuthentication, PlatformKeyThrottle
from members.models import Platform, PlatformApiKey

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=IDEMPOTENCY_HEADER,
    type=str,
    location=OpenApiParameter.HEADER,
    required=True,
    description="每个业务请求唯一的键(1-255个可见ASCII字符),重试时使用同一个键。",
)
ERROR = OpenApiResponse(OpenApiTypes.OBJECT, description="错误说明")
COMMON_ERRORS = {
    400: ERROR,
    401: ERROR,
    403: ERROR,
    404: ERROR,
    429: ERROR,
}
BULK_ERRORS = {**COMMON_ERRORS, 409: ERROR, 413: ERROR, 415: ERROR, 422: ERROR}


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "该 Idempotency-Key 已用于另一个不同的请求。"
    default_code = "idempotency_mismatch"


def claim_idempotency_key(*, platform: Platform, key: str, request_hash: str):
    """idempotency_begin with its 'different request' outcome as HTTP 422."""
    from services.actions.idempotency import IdempotencyMismatch, idempotency_begin

    try:
        return idempotency_begin(platform=platform, key=key, request_hash=request_hash)
    except IdempotencyMismatch as exc:
        raise IdempotencyKeyReused() from exc


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "请求体过大。"
    default_code = "payload_too_large"


class StrictJSONParser(BaseParser):
    """JSON with limits (security.md B5): a body over DATA_UPLOAD_MAX_MEMORY_SIZE
    -> 413 without reading it; deep nesting or duplicate keys -> 400."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = parser_context["request"] if parser_context else None
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0) if request else 0
        except ValueError:
            declared = 0
        if declared > limit:
            raise PayloadTooLarge()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge()
        try:
            return json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
        except RecursionError as exc:
            raise ParseError("JSON嵌套层级过深。") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON格式错误:{exc}") from exc


def _no_duplicates(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"重复的键 {key!r}")
        result[key] = value
    return result


class PlatformApi(APIView):
    """Base of every platform endpoint: bearer key only, per-key throttles."""

    authentication_classes = [PlatformKeyAuthentication]
    permission_classes = [IsPlatform]
    throttle_classes = [PlatformKeyThrottle]
    throttle_scope = "platform_read"
    parser_classes = [StrictJSONParser]
    renderer_classes = [JSONRenderer]

    @property
    def platform(self) -> Platform:
        return self.request.auth.platform

    def handle_exception(self, exc):
        # Database unavailable (security.md F4): a clear 503 the platform retries
        # with the same Idempotency-Key, never a traceback.
        if isinstance(exc, OperationalError | InterfaceError):
            logger.warning("platform api: database unavailable: %s", type(exc).__name__)
            return Response(
                {"detail": "服务暂时不可用,请稍后使用同一 Idempotency-Key 重试。"},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": "30"},
            )
        return super().handle_exception(exc)

    # What the usage record names (security.md LG1); a view that reads one
    # person's data sets `audit_member` (and the object) before responding.
    audit_member = None
    audit_object: tuple[str, object] = ("", "")

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        key = getattr(request, "auth", None)
        if isinstance(key, PlatformApiKey):
            match = getattr(request, "resolver_match", None)
            endpoint = (match.view_name if match else "") or type(self).__name__
            try:
                platform_key_use_record(
                    key=key,
                    endpoint=endpoint,
                    method=request.method,
                    status_code=response.status_code,
                    member=self.audit_member,
                    object_type=self.audit_object[0],
                    object_id=self.audit_object[1],
                )
            except (OperationalError, InterfaceError):
                # The database is down (the response is likely the 503 above):
                # answer anyway; the outage itself is logged.
                logger.warning("platform api: usage not recorded (database down)")
        return response


def idempotency_key_from(request) -> str:
    key = request.headers.get(IDEMPOTENCY_HEADER, "")
    if not key:
        raise ValidationError(
            {
                "detail": "缺少 Idempotency-Key 请求头。",
                "code": "idempotency_key_missing",
            }
        )
    if not _KEY_RE.fullmatch(key):
        raise ValidationError(
            {"detail": "Idempotency-Key 须为1至255个可见ASCII字符。", "code": "invalid"}
        )
    return key


def request_hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def canonical_json(data) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def render_json(data) -> bytes:
    return JSONRenderer().render(data)


def json_response(body: bytes, *, status_code: int, replayed: bool = False):
    response = HttpResponse(body, status=status_code, content_type="application/json")
    if replayed:
        response[REPLAY_HEADER] = "true"
    return response


def replay_response(record) -> HttpResponse:
    return json_response(
        bytes(record.response_body or b""),
        status_code=record.response_status or 200,
        replayed=True,
    )
