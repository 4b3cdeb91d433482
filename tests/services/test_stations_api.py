"""GET /api/v1/stations/: public, throttled, validated, ordered by distance."""

from datetime import time
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from services.geo import wgs84_to_bd09, wgs84_to_gcj02
from tests.services.stations_factories import NANSHAN, every_day, make_station

pytestmark = pytest.mark.django_db

URL = "/api/v1/stations/"
LAT, LNG = NANSHAN


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client():
    return APIClient()


def test_anonymous_caller_gets_stations_ordered_by_distance(client):
    # given
    far = make_station(name="远", lat=LAT + 0.02, lng=LNG, has_microwave=True)
    near = make_station(name="近", lat=LAT + 0.001, lng=LNG, is_24h=True)

    # when
    response = client.get(URL, {"lat": LAT, "lng": LNG})

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [r["id"] for r in body["results"]] == [near.pk, far.pk]
    assert [r["distance_km"] for r in body["results"]] == [0.111, 2.224]
    first = body["results"][0]
    assert first["is_open_now"] is True
    assert first["status"] == "营业中 · 全天开放"
    assert body["results"][1]["amenities"] == ["microwave"]
    g_lat, g_lng = wgs84_to_gcj02(LAT + 0.001, LNG)
    position = parse_qs(urlparse(first["amap_url"]).query)["position"][0]
    assert position == f"{g_lng:.6f},{g_lat:.6f}"
    b_lat, b_lng = wgs84_to_bd09(LAT + 0.001, LNG)
    location = parse_qs(urlparse(first["baidu_url"]).query)["location"][0]
    assert location == f"{b_lat:.6f},{b_lng:.6f}"
    # public data, no personal data: shared caches may keep it a minute
    assert response["Cache-Control"] == "public, max-age=60"


def test_filters_open_now_and_amenity(client):
    make_station(name="day only", hours=every_day(time(0, 1), time(0, 2)))
    wanted = make_station(name="24h + microwave", is_24h=True, has_microwave=True)
    make_station(name="24h", is_24h=True, lat=LAT + 0.001)

    response = client.get(
        URL, {"lat": LAT, "lng": LNG, "open_now": "true", "amenity": "microwave"}
    )

    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [wanted.pk]


def test_radius_limits_results(client):
    make_station(lat=LAT + 0.02, lng=LNG)  # 2.2 km

    narrow = client.get(URL, {"lat": LAT, "lng": LNG, "radius_km": "1.2"})
    wide = client.get(URL, {"lat": LAT, "lng": LNG, "radius_km": "3"})

    assert narrow.json()["count"] == 0
    assert wide.json()["count"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": "91", "lng": "113.9"}, "lat"),
        ({"lat": "-90.5", "lng": "113.9"}, "lat"),
        ({"lat": "22.5", "lng": "abc"}, "lng"),
        ({"lat": "22.5", "lng": "181"}, "lng"),
        ({"lat": "NaN", "lng": "113.9"}, "lat"),
        ({"lat": "22.5", "lng": "inf"}, "lng"),
        ({"lat": "22.5", "lng": "113.9", "radius_km": "10000"}, "radius_km"),
        ({"lat": "22.5", "lng": "113.9", "radius_km": "0"}, "radius_km"),
        ({"lat": "22.5", "lng": "113.9", "amenity": "jacuzzi"}, "amenity"),
        ({"lat": "22.5", "lng": "113.9", "open_now": "maybe"}, "open_now"),
        ({"lat": "22.5", "lng": "113.9", "limit": "5000"}, "limit"),
        ({"lng": "113.9"}, "lat"),
        ({"lat": "1" * 5000, "lng": "113.9"}, "lat"),
    ],
)
def test_bad_input_is_a_400_with_the_field_named(client, params, field):
    make_station()

    response = client.get(URL, params)

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_the_api_is_throttled_per_client(client, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "stations": "3/min"}
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": rates,
    }
    from rest_framework.throttling import ScopedRateThrottle

    ScopedRateThrottle.THROTTLE_RATES = rates
    try:
        codes = [
            client.get(URL, {"lat": LAT, "lng": LNG}).status_code for _ in range(4)
        ]
    finally:
        from rest_framework.settings import api_settings

        ScopedRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES

    assert codes == [200, 200, 200, 429]


def test_the_openapi_schema_documents_the_endpoint():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)

    operation = schema["paths"]["/api/v1/stations/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"lat", "lng", "radius_km", "open_now", "amenity"} <= names
    props = schema["components"]["schemas"]["StationListOutput"]["properties"]
    assert "results" in props
