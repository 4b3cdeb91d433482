"""The lean path for GET /api/v1/stations/ (services/middleware.py): the same
contract as the DRF view, without the session/CSRF/auth/CSP/axes stack."""

from __future__ import annotations

import json
import logging
from datetime import datetime, time
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import OperationalError, connection, connections
from django.http import QueryDict
from rest_framework import serializers
from rest_framework.test import APIRequestFactory

from services.apis.stations import StationNearbyApi, StationQuery, parse_station_query
from services.models import Amenity
from services.opening_hours import SHANGHAI
from services.selectors import stations as selectors
from tests.services.stations_factories import NANSHAN, every_day, make_station

pytestmark = pytest.mark.django_db

URL = "/api/v1/stations/"
LAT, LNG = NANSHAN
FRI_2130 = datetime(2025, 1, 3, 21, 30, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def stations(nanshan):
    return [
        make_station(name="24 小时驿站", lat=LAT + 0.001, lng=LNG, is_24h=True),
        make_station(
            name="夜间驿站",
            lat=LAT + 0.004,
            lng=LNG,
            org=nanshan,
            has_water=True,
            has_aed=True,
            star_level=4,
            phone="0755-1234 5678",
            hours=every_day(time(22, 0), time(2, 0)),
        ),
        make_station(
            name="白天驿站",
            lat=LAT,
            lng=LNG + 0.01,
            hours=every_day(time(8, 0), time(20, 0)),
        ),
    ]


def drf_view_response(params: dict, **headers):
    """The DRF view called directly (no middleware at all)."""
    request = APIRequestFactory().get(URL, params, **headers)
    response = StationNearbyApi.as_view()(request)
    response.render()
    return response


def test_the_fast_path_answers_without_sessions_auth_or_drf(client, stations):
    with mock.patch.object(StationNearbyApi, "get", side_effect=AssertionError):
        response = client.get(URL, {"lat": LAT, "lng": LNG})

    assert response.status_code == 200
    assert response.json()["count"] == 3
    assert not hasattr(response.wsgi_request, "session")
    assert not hasattr(response.wsgi_request, "user")
    assert "Set-Cookie" not in response


@pytest.mark.parametrize(
    "params",
    [
        {"lat": LAT, "lng": LNG},
        {"lat": LAT, "lng": LNG, "open_now": "true"},
        {"lat": LAT, "lng": LNG, "amenity": ["water", "aed"], "limit": "1"},
        {"lat": LAT, "lng": LNG, "radius_km": "0.5", "is_24h": "yes"},
        {"lat": "22.0", "lng": "100.0"},
    ],
)
def test_the_fast_path_payload_is_byte_for_byte_the_drf_views(client, stations, params):
    with mock.patch("django.utils.timezone.now", return_value=FRI_2130):
        fast = client.get(URL, params)
        drf = drf_view_response(params)

    assert fast.status_code == drf.status_code == 200
    assert fast.content == drf.content
    assert fast["Content-Type"] == drf["Content-Type"] == "application/json"
    assert fast["Cache-Control"] == drf["Cache-Control"] == "public, max-age=60"


def test_the_payload_carries_the_documented_fields(client, stations):
    with mock.patch("django.utils.timezone.now", return_value=FRI_2130):
        body = client.get(URL, {"lat": LAT, "lng": LNG}).json()

    night = body["results"][1]
    assert night == {
        "id": stations[1].pk,
        "name": "夜间驿站",
        "address": "深圳市南山区测试路 1 号",
        "operator": stations[1].org.name,
        "latitude": float(stations[1].latitude),
        "longitude": LNG,
        "distance_km": 0.445,
        "is_open_now": False,
        "is_24h": False,
        "status": "已休息 · 22:00 开门",
        "opens_at": "2025-01-03T22:00:00+08:00",
        "closes_at": None,
        "amenities": ["water", "aed"],
        "star_level": 4,
        "phone": "0755-1234 5678",
        "url": f"http://testserver/services/stations/{stations[1].pk}/",
        "amap_url": night["amap_url"],
        "baidu_url": night["baidu_url"],
    }
    assert night["amap_url"].startswith("https://uri.amap.com/marker?position=")
    day = body["results"][2]
    assert (day["is_open_now"], day["opens_at"]) == (False, "2025-01-04T08:00:00+08:00")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": "91", "lng": "113.9"}, "lat"),
        ({"lat": "22.5", "lng": "abc"}, "lng"),
        ({"lat": "22.5", "lng": "113.9", "radius_km": "10000"}, "radius_km"),
        ({"lat": "nan", "lng": "113.9"}, "lat"),
        ({"lat": "22.5", "lng": "113.9", "amenity": "jacuzzi"}, "amenity"),
        ({"lat": "22.5", "lng": "113.9", "limit": "0"}, "limit"),
        ({"lat": "22.5", "lng": "113.9", "open_now": "maybe"}, "open_now"),
        ({"lng": "113.9"}, "lat"),
    ],
)
def test_bad_input_is_the_same_400_on_both_paths(client, params, field):
    fast = client.get(URL, params)
    drf = drf_view_response(params)

    assert fast.status_code == drf.status_code == 400
    assert list(fast.json()) == [field]
    assert fast.content == drf.content


class PreviousInputSerializer(serializers.Serializer):
    """The DRF input serializer the view declared before the shared parser."""

    lat = serializers.FloatField(min_value=-90, max_value=90)
    lng = serializers.FloatField(min_value=-180, max_value=180)
    radius_km = serializers.FloatField(min_value=0.1, max_value=50.0, default=4.0)
    open_now = serializers.BooleanField(default=False)
    is_24h = serializers.BooleanField(default=False)
    amenity = serializers.ListField(
        child=serializers.ChoiceField(choices=Amenity.choices),
        required=False,
        default=list,
        max_length=len(Amenity.choices),
    )
    limit = serializers.IntegerField(min_value=1, max_value=50, default=20)


@pytest.mark.parametrize(
    "query",
    [
        "lat=91&lng=1",
        "lat=-91&lng=1",
        "lat=1&lng=abc",
        "lat=&lng=",
        "lng=1",
        "lat=1&lng=1&radius_km=10000",
        "lat=1&lng=1&radius_km=0.01",
        "lat=1&lng=1&radius_km=",
        "lat=1&lng=1&open_now=maybe&is_24h=null",
        "lat=1&lng=1&open_now=TRUE&is_24h=off",
        "lat=1&lng=1&amenity=water&amenity=x&amenity=",
        "lat=1&lng=1&limit=5.0",
        "lat=1&lng=1&limit=5.5",
        "lat=1&lng=1&limit=51",
        "lat=1e400&lng=-1e400",
        "lat=" + "1" * 1001 + "&lng=1&limit=" + "1" * 1001,
        "lat=1&lng=1&" + "&".join(["amenity=water"] * 16),
        "lat=abc&lng=abc&radius_km=abc&open_now=x&is_24h=x&amenity=x&limit=x",
    ],
)
def test_the_shared_parser_keeps_the_previous_serializers_rules(query):
    params = QueryDict(query)
    previous = PreviousInputSerializer(data=params)

    parsed, errors = parse_station_query(params)

    if previous.is_valid():
        assert errors == {}
        data = previous.validated_data
        assert parsed == StationQuery(
            lat=data["lat"],
            lng=data["lng"],
            radius_km=data["radius_km"],
            open_now=data["open_now"],
            is_24h=data["is_24h"],
            amenities=tuple(data["amenity"]),
            limit=data["limit"],
        )
    else:
        assert parsed is None
        assert json.loads(json.dumps(errors)) == json.loads(json.dumps(previous.errors))


def test_throttle_answers_429_with_retry_after_and_is_shared_with_drf(
    client, settings, stations
):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "stations": "2/min",
        },
    }

    codes = [client.get(URL, {"lat": LAT, "lng": LNG}).status_code for _ in range(2)]
    limited = client.get(URL, {"lat": LAT, "lng": LNG})
    via_drf = drf_view_response({"lat": LAT, "lng": LNG})

    assert codes == [200, 200]
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 120  # < two windows
    assert "detail" in limited.json()
    assert via_drf.status_code == 429  # same counter for the same client IP
    assert via_drf["Retry-After"]


def test_throttle_is_per_client_ip(client, settings, stations):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "stations": "1/min",
        },
    }

    first = client.get(URL, {"lat": LAT, "lng": LNG}, REMOTE_ADDR="10.0.0.1")
    second = client.get(URL, {"lat": LAT, "lng": LNG}, REMOTE_ADDR="10.0.0.1")
    other = client.get(
        URL,
        {"lat": LAT, "lng": LNG},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="10.0.0.1",  # ignored: PROXY_COUNT is 0
    )

    assert [first.status_code, second.status_code, other.status_code] == [
        200,
        429,
        200,
    ]


def test_security_headers_are_the_apis(client, settings, stations):
    settings.SECURE_HSTS_SECONDS = 31536000

    response = client.get(
        URL, {"lat": LAT, "lng": LNG}, secure=True, HTTP_X_REQUEST_ID="abcdef12-3456"
    )

    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Security-Policy"] == (
        "default-src 'none'; frame-ancestors 'none'"
    )
    assert response["X-Request-ID"] == "abcdef12-3456"
    assert response["Cache-Control"] == "public, max-age=60"
    assert response["Allow"] == "GET, HEAD, OPTIONS"


def test_errors_carry_the_security_headers_too(client):
    response = client.get(URL, {"lat": "91", "lng": "1"})

    assert response.status_code == 400
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Request-ID"]


def test_other_methods_go_to_the_drf_view(client):
    post = client.post(URL, {"lat": LAT, "lng": LNG})
    put = client.put(URL)

    assert post.status_code == 405
    assert put.status_code == 405
    assert "GET" in post["Allow"]


def test_plain_http_is_refused_in_production(client, settings, stations):
    settings.SECURE_SSL_REDIRECT = True

    plain = client.get(URL, {"lat": LAT, "lng": LNG})
    tls = client.get(URL, {"lat": LAT, "lng": LNG}, secure=True)

    assert plain.status_code == 403
    assert not plain.has_header("Location")
    assert tls.status_code == 200


def test_language_follows_accept_language_like_the_rest_of_the_site(client, stations):
    english = client.get(URL, {"lat": LAT, "lng": LNG}, HTTP_ACCEPT_LANGUAGE="en")
    bad = client.get(URL, {"lat": "91", "lng": "1"}, HTTP_ACCEPT_LANGUAGE="en")
    chinese = client.get(URL, {"lat": LAT, "lng": LNG})

    assert english["Content-Language"] == "en"
    assert "Accept-Language" in english["Vary"]
    assert english.json()["results"][0]["status"] == "Open · 24 hours"
    assert bad.json() == {"lat": ["Ensure this value is less than or equal to 90."]}
    assert chinese.json()["results"][0]["status"] == "营业中 · 全天开放"
    assert chinese["Content-Language"] == "zh-hans"


def test_bad_requests_are_logged_by_path_without_the_position(client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        client.get(URL, {"lat": "91.123456", "lng": "113.987654"})

    messages = [r.getMessage() for r in caplog.records if r.name == "django.request"]
    assert messages == ["Bad Request: /api/v1/stations/"]
    assert "91.123456" not in caplog.text
    assert "113.987654" not in caplog.text


# --- The selector's SQL path -----------------------------------------------------


def test_raw_search_matches_the_orm_queryset(stations):
    rows = selectors.nearby_stations(lat=LAT, lng=LNG, radius_km=5, at=FRI_2130)
    orm = list(selectors.station_nearby_queryset(lat=LAT, lng=LNG, radius_km=5))

    assert [r.id for r in rows] == [s.pk for s in orm]
    assert [r.distance_km for r in rows] == pytest.approx(
        [s.distance_km for s in orm], abs=1e-9
    )


def test_lat_cells_cover_both_rounding_rules():
    cells = selectors.lat_cells(22.49, 22.61)

    assert len(cells) == selectors.CELL_SLOTS
    assert set(cells) == {449, 450, 451, 452, 453}
    assert selectors.lat_cells(-10.0, 40.0) is None


@pytest.mark.parametrize("lat", [22.5, 22.549999, 22.55, 22.550001, -0.01, 0.0])
def test_the_database_cell_is_one_the_search_probes(lat):
    station = make_station(lat=lat, lng=LNG, county_code="000000")
    station.refresh_from_db()

    assert station.lat_cell in selectors.lat_cells(lat - 1e-6, lat + 1e-6)


def test_a_station_on_a_cell_edge_is_found(stations):
    edge = make_station(name="edge", lat=22.55, lng=LNG)

    rows = selectors.nearby_stations(lat=22.5499, lng=LNG, radius_km=0.1)

    assert [r.id for r in rows] == [edge.pk]


def test_prepared_statement_is_prepared_again_after_a_reconnect(stations, settings):
    if connection.vendor != "postgresql":
        pytest.skip("PREPARE is PostgreSQL only")
    settings.DB_PREPARED_STATEMENTS = True
    first = selectors.nearby_stations(lat=LAT, lng=LNG)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cur.fetchone()[0] >= 1
        cur.execute("DEALLOCATE ALL")  # what a new server session looks like
    connection._stations_prepared = (object(), {})  # as after a reconnect

    again = selectors.nearby_stations(lat=LAT, lng=LNG)

    assert [r.id for r in again] == [r.id for r in first]


@pytest.mark.parametrize(
    "value, literal",
    [
        (0.1, "'0.1'"),
        (-113.93, "'-113.93'"),
        (1e-05, "'1e-05'"),
        (7, "7"),
        (True, "true"),
        (datetime(2025, 1, 3).date(), "'2025-01-03'"),
        (time(21, 30, 5), "'21:30:05'"),
        ("2025-01-03", "'2025-01-03'"),
        ("21:30:05.123456", "'21:30:05.123456'"),
    ],
)
def test_execute_arguments_are_written_as_literals(value, literal):
    assert selectors._literals([value]) == literal


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        None,
        "2025-01-03'; DROP TABLE services_station; --",
        "x",
        "21:30",
        b"2025-01-03",
        [505, 506],
    ],
)
def test_anything_else_goes_through_psycopg2s_quoting(value):
    assert selectors._literals([1, value, 2.0]) is None


def test_literal_and_quoted_arguments_find_the_same_rows(stations, settings):
    if connection.vendor != "postgresql":
        pytest.skip("PREPARE is PostgreSQL only")
    settings.DB_PREPARED_STATEMENTS = True
    literal = selectors.nearby_stations(lat=LAT, lng=LNG, at=FRI_2130)
    with mock.patch.object(selectors, "_literals", return_value=None):
        quoted = selectors.nearby_stations(lat=LAT, lng=LNG, at=FRI_2130)

    assert [(r.id, r.distance_km, r.status) for r in literal] == [
        (r.id, r.distance_km, r.status) for r in quoted
    ]
    assert len(literal) == 3


def test_without_prepared_statements_the_same_sql_runs(stations, settings):
    settings.DB_PREPARED_STATEMENTS = False

    rows = selectors.nearby_stations(lat=LAT, lng=LNG)

    assert len(rows) == 3


@pytest.mark.django_db(transaction=True)
def test_a_dead_reused_connection_is_retried_once_instead_of_health_checked(
    monkeypatch,
):
    if connection.vendor != "postgresql":
        pytest.skip("an in-memory SQLite test database ignores close()")
    make_station(is_24h=True)
    selectors.nearby_stations(lat=LAT, lng=LNG)  # connection open
    wrapper = connections["default"]
    real = selectors._execute
    calls = []

    def flaky(conn, statement, values):
        calls.append(conn.connection)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(conn, statement, values)

    monkeypatch.setattr(selectors, "_execute", flaky)
    wrapper.health_check_enabled = True
    wrapper.health_check_done = False
    try:
        rows = selectors.nearby_stations(lat=LAT, lng=LNG)
    finally:
        wrapper.health_check_enabled = wrapper.settings_dict["CONN_HEALTH_CHECKS"]

    assert len(rows) == 1
    assert len(calls) == 2
    assert calls[1] is None  # closed, reconnected on the retry


@pytest.mark.parametrize("hour", [1, 9, 21, 23])
def test_the_queryset_open_now_uses_the_same_rules(stations, hour):
    at = FRI_2130.replace(hour=hour)

    raw = selectors.nearby_stations(lat=LAT, lng=LNG, open_now=True, at=at)
    orm = selectors.station_nearby_queryset(lat=LAT, lng=LNG, open_now=True, at=at)
    first = selectors.station_nearby_queryset(lat=LAT, lng=LNG, open_first=True, at=at)

    assert [s.pk for s in orm] == [r.id for r in raw]
    assert [s.pk for s in first][: len(raw)] == [r.id for r in raw]


def test_the_fast_path_sends_content_length(client, stations):
    """CommonMiddleware is skipped; without the header granian sends chunked."""
    response = client.get(URL, {"lat": LAT, "lng": LNG})

    assert int(response["Content-Length"]) == len(response.content)


PAYLOADS = [
    {"count": 0, "results": []},
    {
        "count": 1,
        "results": [
            {
                "id": 7,
                "name": '驿站 "一号" \\ <b>&\'',
                "latitude": 22.543096,
                "longitude": 113.9309,
                "distance_km": 0.001,
                "far": 49.999,
                "big": 123456789.0,
                "none": None,
                "yes": True,
                "no": False,
                "amenities": ["water", "aed"],
                "control": "tab\tnewline\n\x01\x1f",
                "emoji": "🚲",
                "separators": "a\u2028b\u2029c",
                "url": "https://portal.example/stations/7/?a=1&b=%E4",
            }
        ],
    },
]


@pytest.mark.parametrize("data", PAYLOADS)
def test_the_payload_encoder_writes_drfs_bytes(data):
    from services.apis.stations import render_json, render_payload_json

    assert render_payload_json(data) == render_json(data)


def test_the_payload_encoder_escapes_line_separators_as_drf():
    from services.apis.stations import render_payload_json

    assert render_payload_json({"s": "a\u2028b\u2029"}) == b'{"s":"a\\u2028b\\u2029"}'


def test_the_payload_encoder_works_without_orjson():
    from services.apis import stations as api

    with mock.patch.object(api, "orjson", None):
        assert api.render_payload_json(PAYLOADS[1]) == api.render_json(PAYLOADS[1])


def test_the_payload_encoder_refuses_what_the_stdlib_encoder_refuses():
    from django.utils.translation import gettext_lazy

    from services.apis.stations import render_json, render_payload_json

    for encode in (render_json, render_payload_json):
        with pytest.raises(TypeError):
            encode({"detail": gettext_lazy("驿站")})


@pytest.mark.parametrize("where", ["nanshan", "nowhere"])
def test_an_unknown_host_is_refused_with_or_without_results(client, stations, where):
    """security.md DJ3: the fast path checks the Host as CommonMiddleware would,
    also when no row needs an absolute URL (the empty answer)."""
    lat, lng = (NANSHAN if where == "nanshan" else (45.0, 90.0))[:2]
    url = f"/api/v1/stations/?lat={lat}&lng={lng}"

    refused = client.get(url, HTTP_HOST="evil.example")
    allowed = client.get(url)

    assert refused.status_code == 400
    assert allowed.status_code == 200
