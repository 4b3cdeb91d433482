"""Shared pieces of the gig-platform API: auth + throttling setup, the
Idempotency-Key protocol, a hardened JSON parser and CSV cells."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import NoReturn

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse
from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from members.actions.api_keys import (
    AuthRefusal,
    platform_access_denied_record,
    platform_key_use_record,
)
from members.api_auth import (
    IsPlatform,
    PlatformKeyAuthentication,
    PlatformKeyThrottle,
    record_auth_refusal,
)
from members.models import Platform, PlatformApiKey

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=IDEMPOTENCY_HEADER,
    type={"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    location=OpenApiParameter.HEADER,
    required=True,
    description="每个业务请求唯一的键(1-255个可见ASCII字符),重试时使用同一个键。",
)


# --- Error bodies, as the API sends them (security.md AP7) -----------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="错误说明(中文)")
    code = serializers.CharField(required=False, help_text="机器可读的错误代码")


class IpRefusedErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="错误说明(中文)")
    code = serializers.ChoiceField(["ip_not_allowed"])
    client_ip = serializers.CharField(
        allow_blank=True, help_text="门户看到的调用来源IP(经可信代理解析)"
    )


def _error(description: str, body=ErrorSerializer) -> OpenApiResponse:
    return OpenApiResponse(body, description=description)


ERROR_RESPONSES = {
    400: _error(
        "请求格式或字段有误",
        {"$ref": "#/components/schemas/ValidationError"},
    ),
    401: _error("缺少接口密钥,或密钥无效、已撤销、已过期"),
    403: _error("调用来源IP不在本平台的白名单内", IpRefusedErrorSerializer),
    404: _error("不存在,或不属于本平台"),
    409: _error("同一 Idempotency-Key 的请求仍在处理中,请稍后重试"),
    413: _error("请求体或文件过大"),
    415: _error("不支持的 Content-Type"),
    422: _error("该 Idempotency-Key 已用于另一个不同的请求"),
    429: _error("超过调用频率限制,请按 Retry-After 等待后重试"),
    503: _error("服务暂时不可用,请按 Retry-After 等待后重试"),
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERROR_RESPONSES[code] for code in codes}


# Every platform call: key (401), IP allow-list (403), throttle (429), database
# (503). Reads add 404; bulk POSTs add their body and Idempotency-Key errors.
READ_ERRORS = error_responses(401, 403, 404, 429, 503)
BULK_ERRORS = error_responses(400, 401, 403, 409, 413, 415, 422, 429, 503)

RETRY_AFTER_HEADER = OpenApiParameter(
    "Retry-After",
    {"type": "integer", "minimum": 0},
    OpenApiParameter.HEADER,
    required=True,
    description="重试前应等待的秒数",
    response=[429, 503],
)
RESPONSE_HEADERS = [
    RETRY_AFTER_HEADER,
    OpenApiParameter(
        "WWW-Authenticate",
        str,
        OpenApiParameter.HEADER,
        required=True,
        description='Bearer realm="api"',
        response=[401],
    ),
]
REPLAY_RESPONSE_HEADER = OpenApiParameter(
    REPLAY_HEADER,
    {"type": "string", "enum": ["true"]},
    OpenApiParameter.HEADER,
    description="重放了同一 Idempotency-Key 的第一次响应时出现",
    response=[200, 202],
)


# --- Strict JSON input ------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """Only JSON strings: a number or a list where text belongs is a 400. The
    value is taken as sent (no trimming), so the schema's maxLength is exactly
    what is enforced; NUL characters are refused (400), as the schema says."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class NoUnknownFieldsSerializer(serializers.Serializer):
    """A JSON object with exactly the declared fields: unknown ones are a 400
    (security.md PI5); the schema says `additionalProperties: false`."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise ValidationError({"non_field_errors": ["应为JSON对象。"]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise ValidationError({name: ["不支持的字段。"] for name in unknown})
        return super().to_internal_value(data)


class UniqueListField(serializers.ListField):
    """A list whose items must differ (the view refuses repeats with a 400); the
    schema says `uniqueItems: true`."""


NO_NUL_PATTERN = "^[^\\x00]*$"


class StrictCharFieldExtension(OpenApiSerializerFieldExtension):
    target_class = StrictCharField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(
            self.target, direction, bypass_extensions=True
        )
        schema["pattern"] = NO_NUL_PATTERN
        return schema


class UniqueListFieldExtension(OpenApiSerializerFieldExtension):
    target_class = UniqueListField

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(
            self.target, direction, bypass_extensions=True
        )
        schema["uniqueItems"] = True
        return schema


class NoUnknownFieldsExtension(OpenApiSerializerExtension):
    target_class = NoUnknownFieldsSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema


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

    def permission_denied(self, request, message=None, code=None):
        # No credentials at all (DRF answers 401 next): audited like a bad key.
        if request.authenticators and not request.successful_authenticator:
            record_auth_refusal(request, reason=AuthRefusal.MISSING)
        super().permission_denied(request, message=message, code=code)

    def not_found(
        self, *, object_type: str, object_id: object, owner_platform_id: int | None
    ) -> NoReturn:
        """404 for an id this platform may not see. When another platform owns
        it, the union's audit log records the denial (security.md LG1, AC3); the
        answer is the same 404 as for an id that does not exist."""
        if owner_platform_id is not None and owner_platform_id != self.platform.pk:
            match = getattr(self.request, "resolver_match", None)
            platform_access_denied_record(
                key=self.request.auth,
                endpoint=(match.view_name if match else "") or type(self).__name__,
                method=self.request.method,
                object_type=object_type,
                object_id=object_id,
                owner_platform_id=owner_platform_id,
            )
        raise Http404

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
