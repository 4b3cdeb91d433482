"""Public nearest-station API: GET /api/v1/stations/."""

from __future__ import annotations

import math

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from services.models import Amenity
from services.navigation import amap_url, baidu_url
from services.opening_hours import status_label
from services.selectors.stations import (
    DEFAULT_RADIUS_KM,
    MAX_LIMIT,
    MAX_RADIUS_KM,
    StationHit,
    station_search,
)


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


class StationNearbyApi(APIView):
    """Stations near a WGS-84 point, nearest first, with distance and open status."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "stations"

    class InputSerializer(serializers.Serializer):
        lat = serializers.FloatField(min_value=-90, max_value=90)
        lng = serializers.FloatField(min_value=-180, max_value=180)
        radius_km = serializers.FloatField(
            min_value=0.1, max_value=MAX_RADIUS_KM, default=DEFAULT_RADIUS_KM
        )
        open_now = serializers.BooleanField(default=False)
        is_24h = serializers.BooleanField(default=False)
        amenity = serializers.ListField(
            child=serializers.ChoiceField(choices=Amenity.choices),
            required=False,
            default=list,
            max_length=len(Amenity.choices),
        )
        limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=20)

        def _finite(self, value: float) -> float:
            if not math.isfinite(value):
                raise serializers.ValidationError("必须是有限的数字。")
            return value

        validate_lat = _finite
        validate_lng = _finite
        validate_radius_km = _finite

    OutputSerializer = StationOutputSerializer
    ListOutputSerializer = StationListOutputSerializer

    @staticmethod
    def present(hit: StationHit, *, request: Request, now) -> dict:
        s = hit.station
        lat, lng = float(s.latitude), float(s.longitude)
        return {
            "id": s.pk,
            "name": s.name,
            "address": s.address,
            "operator": s.operator_display,
            "latitude": lat,
            "longitude": lng,
            "distance_km": round(hit.distance_km, 3),
            "is_open_now": hit.status.is_open,
            "is_24h": s.is_24h,
            "status": status_label(hit.status, now),
            "opens_at": hit.status.opens_at,
            "closes_at": hit.status.closes_at,
            "amenities": [a.value for a in s.amenities],
            "star_level": s.star_level,
            "phone": s.phone,
            "url": request.build_absolute_uri(s.get_absolute_url()),
            "amap_url": amap_url(lat=lat, lng=lng, name=s.name),
            "baidu_url": baidu_url(lat=lat, lng=lng, name=s.name, address=s.address),
        }

    @extend_schema(
        operation_id="stations_nearby",
        summary="附近的工会驿站(按距离排序)",
        parameters=[
            OpenApiParameter("lat", OpenApiTypes.DOUBLE, required=True),
            OpenApiParameter("lng", OpenApiTypes.DOUBLE, required=True),
            OpenApiParameter(
                "radius_km",
                OpenApiTypes.DOUBLE,
                description=f"0.1–{MAX_RADIUS_KM:g},默认 {DEFAULT_RADIUS_KM:g}",
            ),
            OpenApiParameter("open_now", OpenApiTypes.BOOL),
            OpenApiParameter("is_24h", OpenApiTypes.BOOL),
            OpenApiParameter(
                "amenity",
                OpenApiTypes.STR,
                many=True,
                enum=[a.value for a in Amenity],
                description="可重复;多个设施同时具备",
            ),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"1–{MAX_LIMIT}"),
        ],
        responses={200: ListOutputSerializer},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        now = timezone.now()
        hits = station_search(
            lat=data["lat"],
            lng=data["lng"],
            radius_km=data["radius_km"],
            open_now=data["open_now"],
            amenities=data["amenity"],
            is_24h=data["is_24h"],
            limit=data["limit"],
            at=now,
        )
        payload = {
            "count": len(hits),
            "results": [self.present(h, request=request, now=now) for h in hits],
        }
        # The payload is built field by field in present() with plain types, so it
        # goes straight to the JSON renderer; StationListOutputSerializer documents
        # the same shape in the schema (DRF serializers cost ~3 ms per 10 rows).
        return Response(payload)
