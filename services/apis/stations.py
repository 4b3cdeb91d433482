"""Public nearest-station API: GET /api/v1/stations/.

Two entrances, one logic. `StationNearbyApi` (DRF) is the documented OpenAPI
operation; `services.middleware.StationsApiMiddleware` answers the same GET early
in the middleware stack (no session, CSRF, auth, messages or CSP work for this
anonymous read) and hands everything else (HEAD, OPTIONS, POST...) to the DRF view.
Both call the same functions below: `station_rate_limit_wait` (per-IP throttle),
`parse_station_query` (input rules and DRF-shaped 400 details), `nearby_stations`
(one SQL round trip) and `station_list_payload` (the JSON shape).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

try:
    import orjson
except ImportError:  # optional: the stdlib encoder writes the same bytes
    orjson = None

from portal.middleware import client_ip
from portal.throttling import ThrottleUnavailable, rate_limit_wait
from services.apis.common import RETRY_AFTER_HEADER, ErrorSerializer
from services.models import Amenity
from services.navigation import map_links
from services.opening_hours import SecondMemo, status_labeler
from services.selectors.stations import (
    DEFAULT_RADIUS_KM,
    MAX_LIMIT,
    MAX_RADIUS_KM,
    NearbyStation,
    nearby_stations,
)

# Public, identical for every caller at the same moment: shared caches may keep it
# a minute (the open-now status is at most that stale).
CACHE_CONTROL = "public, max-age=60"
THROTTLE_SCOPE = "stations"


class StationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    address = serializers.CharField()
    operator = serializers.CharField()
    latitude = serializers.FloatField(help_text="WGS-84")
    longitude = serializers.FloatField(help_text="WGS-84")
    distance_km = serializers.FloatField()
    is_open_now = serializers.BooleanField()
    is_24h = serializers.BooleanField()
    status = serializers.CharField(help_text="营业中 · 至 22:00 / 已休息 · 08:00 开门")
    opens_at = serializers.DateTimeField(allow_null=True)
    closes_at = serializers.DateTimeField(allow_null=True)
    amenities = serializers.ListField(
        child=serializers.ChoiceField(choices=Amenity.choices)
    )
    star_level = serializers.IntegerField(allow_null=True)
    phone = serializers.CharField()
    url = serializers.CharField()
    amap_url = serializers.CharField(help_text="高德 (GCJ-02)")
    baidu_url = serializers.CharField(help_text="百度 (BD-09)")


class StationListOutputSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    results = StationOutputSerializer(many=True)


# --- Throttle ------------------------------------------------------------------


def station_rate_limit_wait(request: HttpRequest) -> int | None:
    """Count this request against the client IP's STATIONS_API_RATE; None if
    allowed, else the seconds to wait (sent as Retry-After with the 429)."""
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][THROTTLE_SCOPE]
    ident = client_ip(request) or "unknown"
    return rate_limit_wait(scope=THROTTLE_SCOPE, ident=ident, rate=rate)


RETRY_AFTER_UNAVAILABLE = 5


class CounterUnavailable(exceptions.APIException):
    """The throttle's Redis is down: 503 with Retry-After (DRF sends `wait`)."""

    status_code = 503
    default_detail = gettext_lazy("服务暂时不可用,请稍后再试。")
    default_code = "service_unavailable"
    wait = RETRY_AFTER_UNAVAILABLE


class StationsThrottle(BaseThrottle):
    """DRF face of station_rate_limit_wait (same counters as the fast path)."""

    def allow_request(self, request, view) -> bool:
        try:
            self._wait = station_rate_limit_wait(request)
        except ThrottleUnavailable:
            raise CounterUnavailable from None
        return self._wait is None

    def wait(self):
        return self._wait


# --- Input ---------------------------------------------------------------------
# The rules of DRF's FloatField/BooleanField/ListField/IntegerField as the serializer
# declared them before, with DRF's own (translated) messages, so the 400 body is the
# DRF shape: {"field": ["message"]}, {"amenity": {"0": ["message"]}}.

_MAX_STRING_LENGTH = 1000  # DRF's FloatField/IntegerField limit
_MSG_REQUIRED = serializers.Field.default_error_messages["required"]
_MSG_FLOAT = serializers.FloatField.default_error_messages
_MSG_INT = serializers.IntegerField.default_error_messages
_MSG_BOOL = serializers.BooleanField.default_error_messages["invalid"]
_MSG_CHOICE = serializers.ChoiceField.default_error_messages["invalid_choice"]
_MSG_LIST_MAX = serializers.ListField.default_error_messages["max_length"]
_TRUE = frozenset({"t", "y", "yes", "true", "on", "1"})
_FALSE = frozenset({"f", "n", "no", "false", "off", "0"})
_INT_DECIMAL = re.compile(r"\.0*\s*$")
_AMENITY_CODES = frozenset(a.value for a in Amenity)


@dataclass(frozen=True, slots=True)
class StationQuery:
    lat: float
    lng: float
    radius_km: float
    open_now: bool
    is_24h: bool
    amenities: tuple[str, ...]
    limit: int


class _Invalid(Exception):
    def __init__(self, message: str):
        self.message = message


def _number(raw: str, messages, parse, low, high):
    if len(raw) > _MAX_STRING_LENGTH:
        raise _Invalid(str(messages["max_string_length"]))
    try:
        value = parse(raw)
    except (TypeError, ValueError, OverflowError):
        raise _Invalid(str(messages["invalid"])) from None
    if isinstance(value, float) and not math.isfinite(value):  # nan, inf
        raise _Invalid(str(messages["invalid"]))
    if value > high:
        raise _Invalid(str(messages["max_value"]).format(max_value=high))
    if value < low:
        raise _Invalid(str(messages["min_value"]).format(min_value=low))
    return value


def _int(raw: str) -> int:
    return int(_INT_DECIMAL.sub("", raw))


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _Invalid(str(_MSG_BOOL))


def parse_station_query(
    params: Mapping,
) -> tuple[StationQuery | None, dict]:
    """Validate query parameters (a QueryDict). Returns (query, {}) or
    (None, errors) with errors in DRF's 400 shape, fields in declaration order."""
    errors: dict = {}
    values: dict = {}

    def field(name, convert, *, required=False, default=None):
        raw = params.get(name)
        if raw is None or (raw == "" and not required):
            if required:
                errors[name] = [str(_MSG_REQUIRED)]
            else:
                values[name] = default
            return
        try:
            values[name] = convert(raw)
        except _Invalid as exc:
            errors[name] = [exc.message]

    field(
        "lat",
        lambda r: _number(r, _MSG_FLOAT, float, -90, 90),
        required=True,
    )
    field(
        "lng",
        lambda r: _number(r, _MSG_FLOAT, float, -180, 180),
        required=True,
    )
    field(
        "radius_km",
        lambda r: _number(r, _MSG_FLOAT, float, 0.1, MAX_RADIUS_KM),
        default=DEFAULT_RADIUS_KM,
    )
    field("open_now", _boolean, default=False)
    field("is_24h", _boolean, default=False)
    codes = params.getlist("amenity") if hasattr(params, "getlist") else []
    bad = {
        i: [str(_MSG_CHOICE).format(input=code)]
        for i, code in enumerate(codes)
        if code not in _AMENITY_CODES
    }
    if bad:
        errors["amenity"] = bad
    elif len(codes) > len(_AMENITY_CODES):
        errors["amenity"] = [str(_MSG_LIST_MAX).format(max_length=len(_AMENITY_CODES))]
    field(
        "limit",
        lambda r: _number(r, _MSG_INT, _int, 1, MAX_LIMIT),
        default=20,
    )
    if errors:
        return None, errors
    return (
        StationQuery(
            lat=values["lat"],
            lng=values["lng"],
            radius_km=values["radius_km"],
            open_now=values["open_now"],
            is_24h=values["is_24h"],
            amenities=tuple(codes),
            limit=values["limit"],
        ),
        {},
    )


# --- Output --------------------------------------------------------------------

_URL_SENTINEL = "987654321"


def _iso(moment: datetime | None) -> str | None:
    """The datetime text DRF's JSON encoder writes."""
    if moment is None:
        return None
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@functools.lru_cache(maxsize=16)
def _detail_path(script_prefix: str, urlconf) -> str:
    """The station detail path with a sentinel id, reversed once per script
    prefix and urlconf (reverse() cost as much as building five rows)."""
    return reverse(
        "services:station_detail", urlconf=urlconf, args=[int(_URL_SENTINEL)]
    )


# (status, language) -> (label, opens_at, closes_at) texts, per second (the label
# reads the date of `now`; statuses come from the same per-second memo).
_TEXT_MEMO = SecondMemo()


def station_list_payload(
    rows: list[NearbyStation], *, request: HttpRequest, now: datetime
) -> dict:
    """The response body: plain JSON types only, built field by field
    (StationListOutputSerializer documents the same shape in the schema)."""
    results = []
    label = status_labeler(now)
    texts = _TEXT_MEMO.table((int(now.timestamp()), get_language()))
    if rows:
        detail = request.build_absolute_uri(
            _detail_path(get_script_prefix(), get_urlconf())
        )
        url_head, url_tail = detail.split(_URL_SENTINEL)
    for r in rows:
        status = r.status
        text = texts.get(status)
        if text is None:
            text = _TEXT_MEMO.remember(
                texts,
                status,
                (label(status), _iso(status.opens_at), _iso(status.closes_at)),
            )
        amap, baidu = map_links(
            lat=r.latitude, lng=r.longitude, name=r.name, address=r.address
        )
        results.append(
            {
                "id": r.id,
                "name": r.name,
                "address": r.address,
                "operator": r.operator,
                "latitude": r.latitude,
                "longitude": r.longitude,
                "distance_km": round(r.distance_km, 3),
                "is_open_now": status.is_open,
                "is_24h": r.is_24h,
                "status": text[0],
                "opens_at": text[1],
                "closes_at": text[2],
                "amenities": r.amenities,
                "star_level": r.star_level,
                "phone": r.phone,
                "url": f"{url_head}{r.id}{url_tail}",
                "amap_url": amap,
                "baidu_url": baidu,
            }
        )
    return {"count": len(results), "results": results}


def search_payload(query: StationQuery, *, request: HttpRequest) -> dict:
    now = timezone.now()
    rows = nearby_stations(
        lat=query.lat,
        lng=query.lng,
        radius_km=query.radius_km,
        open_now=query.open_now,
        amenities=query.amenities,
        is_24h=query.is_24h,
        limit=query.limit,
        at=now,
    )
    return station_list_payload(rows, request=request, now=now)


def render_json(data) -> bytes:
    """Byte for byte what DRF's JSONRenderer writes with our settings."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


def render_payload_json(data: dict) -> bytes:
    """render_json for the search payload, through orjson (C, ~6x faster here)
    when it is installed. For str/int/bool/None, finite floats and lists/dicts
    orjson writes the same bytes as the stdlib encoder (tested) except that a
    float below 1e-4 is written 0.00001 instead of 1e-05 (the same number; the
    payload's coordinates and metre-rounded distances never are) and that
    U+2028/U+2029 are left raw, escaped below as DRF does."""
    if orjson is None:
        return render_json(data)
    try:
        body = orjson.dumps(data)
    except TypeError:  # let the stdlib encoder decide (and word the error)
        return render_json(data)
    if b"\xe2\x80\xa8" in body or b"\xe2\x80\xa9" in body:
        body = body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(
            b"\xe2\x80\xa9", b"\\u2029"
        )
    return body


def fast_response(request: HttpRequest) -> HttpResponse:
    """GET /api/v1/stations/ without DRF (see services.middleware)."""
    try:
        wait = station_rate_limit_wait(request)
    except ThrottleUnavailable:
        response = HttpResponse(
            render_json({"detail": str(CounterUnavailable.default_detail)}),
            status=503,
            content_type="application/json",
        )
        response["Retry-After"] = str(RETRY_AFTER_UNAVAILABLE)
        return response
    if wait is not None:
        response = HttpResponse(
            render_json({"detail": str(exceptions.Throttled(wait).detail)}),
            status=429,
            content_type="application/json",
        )
        response["Retry-After"] = str(wait)
        return response
    query, errors = parse_station_query(request.GET)
    if query is None:
        return HttpResponse(
            render_json(errors), status=400, content_type="application/json"
        )
    body = render_payload_json(search_payload(query, request=request))
    response = HttpResponse(body, content_type="application/json")
    # CommonMiddleware, which would add it, is skipped; without it granian sends
    # the body chunked.
    response["Content-Length"] = str(len(body))
    response["Cache-Control"] = CACHE_CONTROL
    return response


class StationNearbyApi(APIView):
    """Stations near a WGS-84 point, nearest first, with distance and open status."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [StationsThrottle]

    OutputSerializer = StationOutputSerializer
    ListOutputSerializer = StationListOutputSerializer

    @extend_schema(
        operation_id="stations_nearby",
        summary="附近的工会驿站(按距离排序)",
        parameters=[
            OpenApiParameter(
                "lat",
                {"type": "number", "format": "double", "minimum": -90, "maximum": 90},
                required=True,
            ),
            OpenApiParameter(
                "lng",
                {
                    "type": "number",
                    "format": "double",
                    "minimum": -180,
                    "maximum": 180,
                },
                required=True,
            ),
            OpenApiParameter(
                "radius_km",
                {
                    "type": "number",
                    "format": "double",
                    "minimum": 0.1,
                    "maximum": MAX_RADIUS_KM,
                },
                description=f"0.1–{MAX_RADIUS_KM:g},默认 {DEFAULT_RADIUS_KM:g}",
            ),
            OpenApiParameter("open_now", OpenApiTypes.BOOL),
            OpenApiParameter("is_24h", OpenApiTypes.BOOL),
            OpenApiParameter(
                "amenity",
                {
                    "type": "array",
                    "items": {"type": "string", "enum": [a.value for a in Amenity]},
                    "maxItems": len(Amenity),
                },
                description="可重复;多个设施同时具备",
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                description=f"1–{MAX_LIMIT},默认 20",
            ),
            RETRY_AFTER_HEADER,
        ],
        responses={
            200: ListOutputSerializer,
            400: OpenApiResponse(
                {"$ref": "#/components/schemas/ValidationError"},
                description="查询参数有误",
            ),
            429: OpenApiResponse(
                ErrorSerializer, description="同一IP调用过于频繁,请按 Retry-After 重试"
            ),
            503: OpenApiResponse(
                ErrorSerializer, description="限流计数暂不可用,请按 Retry-After 重试"
            ),
        },
        auth=[],
    )
    def get(self, request: Request) -> Response:
        query, errors = parse_station_query(request.query_params)
        if query is None:
            raise exceptions.ValidationError(errors)
        payload = search_payload(query, request=request)
        return Response(payload, headers={"Cache-Control": CACHE_CONTROL})
