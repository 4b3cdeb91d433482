"""The public station pages: list without JS, detail, problem reports, photos."""

import io
from datetime import time
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.cache import cache
from django.test import Client

from services.actions.stations import station_photo_add
from services.geo import DISTRICTS_BY_CODE, wgs84_to_gcj02
from services.models import ProblemReport
from tests.services.stations_factories import NANSHAN, every_day, make_station

pytestmark = pytest.mark.django_db

LIST = "/services/stations/"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_list_without_a_position_offers_the_district_fallback(client):
    response = client.get(LIST)

    assert response.status_code == 200
    body = response.content.decode()
    assert "没有定位?选择所在区" in body
    assert '<option value="440305">南山区</option>' in body
    assert "station-card" not in body
    assert 'nonce="' in body  # stations.js carries the CSP nonce


def test_choosing_a_district_lists_stations_near_its_centre_without_js(client):
    # given
    centre = DISTRICTS_BY_CODE["440305"]
    near = make_station(name="南山近站", lat=centre.lat + 0.001, lng=centre.lng)
    make_station(name="福田远站", lat=22.5222, lng=114.0554)  # ~13 km away

    # when
    response = client.get(LIST, {"district": "440305", "radius": "4"})

    # then
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [r["station"].pk for r in rows] == [near.pk]
    body = response.content.decode()
    assert "南山区附近的驿站" in body
    assert "110 米" in body


def test_list_row_shows_status_amenities_and_converted_navigation(client):
    station = make_station(name="全天站", is_24h=True, has_microwave=True)

    response = client.get(LIST, {"lat": NANSHAN[0], "lng": NANSHAN[1]})

    body = response.content.decode()
    assert "营业中 · 全天开放" in body
    assert "微波炉" in body
    amap = response.context["rows"][0]["nav"]["amap"]
    g_lat, g_lng = wgs84_to_gcj02(float(station.latitude), float(station.longitude))
    assert parse_qs(urlparse(amap).query)["position"] == [f"{g_lng:.6f},{g_lat:.6f}"]


def test_list_filters_by_amenity_and_open_now(client):
    make_station(name="closed", hours=every_day(time(0, 1), time(0, 2)))
    hit = make_station(name="open+fridge", is_24h=True, has_fridge=True)
    make_station(name="open", is_24h=True)

    response = client.get(
        LIST,
        {"lat": NANSHAN[0], "lng": NANSHAN[1], "open_now": "on", "amenity": "fridge"},
    )

    assert [r["station"].pk for r in response.context["rows"]] == [hit.pk]


@pytest.mark.parametrize(
    "params",
    [
        {"lat": "91", "lng": "113.9"},
        {"lat": "abc", "lng": "113.9"},
        {"lat": "22.5"},
        {"district": "999999"},
        {"amenity": "jacuzzi", "district": "440305"},
        {"radius": "10000", "district": "440305"},
    ],
)
def test_list_bad_input_is_a_400_form_error_not_a_500(client, params):
    make_station()

    response = client.get(LIST, params)

    assert response.status_code == 400
    assert response.context["rows"] == []


def test_map_is_offered_only_with_a_tile_key(client, settings):
    make_station(is_24h=True)
    params = {"lat": NANSHAN[0], "lng": NANSHAN[1]}

    settings.TIANDITU_KEY = ""
    assert "station-map" not in client.get(LIST, params).content.decode()

    settings.TIANDITU_KEY = "k123"
    body = client.get(LIST, params).content.decode()
    assert 'id="station-map"' in body
    assert "T=vec_w" in body and "tk=k123" in body and "T=cva_w" in body
    assert "vendor/leaflet/leaflet.js" in body


def test_detail_shows_week_hours_including_past_midnight(client):
    station = make_station(
        name="夜班驿站",
        hours={4: [(time(22), time(2))], 0: [(time(8), time(12))]},
        access_note="扫门口二维码,输入手机号开门",
    )

    response = client.get(station.get_absolute_url())

    assert response.status_code == 200
    week = {d["name"]: d["intervals"] for d in response.context["week"]}
    assert week["周五"] == ["22:00–次日02:00"]
    assert week["周一"] == ["08:00–12:00"]
    assert week["周日"] == ["休息"]
    assert "扫门口二维码,输入手机号开门" in response.content.decode()


def test_inactive_or_unknown_station_is_404(client):
    station = make_station(is_active=False)

    assert client.get(station.get_absolute_url()).status_code == 404
    assert client.get("/services/stations/999999/").status_code == 404


def test_report_a_problem_lands_as_an_open_report():
    station = make_station()
    client = Client(enforce_csrf_checks=True)
    client.get(station.get_absolute_url())
    token = client.cookies["csrftoken"].value

    response = client.post(
        station.get_absolute_url(),
        {
            "kind": "closed_when_open",
            "text": "下午三点没开门",
            "contact": "13812345678",
            "csrfmiddlewaretoken": token,
        },
    )

    assert response.status_code == 302
    assert response["Location"] == station.get_absolute_url() + "#messages"
    landing = client.get(response["Location"]).content.decode()
    assert (
        '<ul class="messages" id="messages" role="status" tabindex="-1">'
        '<li class="success">谢谢!问题已转给运营驿站的工会处理。</li>'
    ) in landing
    report = ProblemReport.objects.get()
    assert (report.station, report.kind, report.status) == (
        station,
        "closed_when_open",
        "open",
    )
    assert report.contact == "13812345678"
    assert report.contact_masked == "138****5678"


def test_report_without_csrf_is_refused():
    station = make_station()
    client = Client(enforce_csrf_checks=True)

    response = client.post(station.get_absolute_url(), {"kind": "other", "text": "x"})

    assert response.status_code == 403
    assert ProblemReport.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "arson"}, "kind"),
        ({}, "kind"),
        ({"kind": "other", "text": "   "}, "text"),
        ({"kind": "supplies_missing", "text": "水" * 501}, "text"),
        ({"kind": "supplies_missing", "text": "a\x00b"}, "text"),
        ({"kind": "supplies_missing", "contact": "12345"}, "contact"),
        ({"kind": "supplies_missing", "contact": "<script>"}, "contact"),
    ],
)
def test_report_bad_input_is_a_form_error(client, data, field):
    station = make_station()

    response = client.post(station.get_absolute_url(), data)

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert ProblemReport.objects.count() == 0


def test_reports_are_throttled_per_ip(client, settings):
    settings.STATIONS_REPORTS_PER_HOUR = 2
    station = make_station()
    data = {"kind": "supplies_missing", "text": "没有热水"}

    codes = [
        client.post(station.get_absolute_url(), data).status_code for _ in range(3)
    ]
    other_ip = client.post(
        station.get_absolute_url(), data, REMOTE_ADDR="10.0.0.9"
    ).status_code

    assert codes == [302, 302, 429]
    assert other_ip == 302
    assert ProblemReport.objects.count() == 3


def test_photos_are_reencoded_without_exif_and_served_by_the_view(client):
    from PIL import Image

    station = make_station()
    img = Image.new("RGB", (40, 30), "red")
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    assert b"SecretCam" in buf.getvalue()

    photo = station_photo_add(station=station, data=buf.getvalue(), caption="门口")
    response = client.get(f"/services/stations/photos/{photo.uuid}.jpg")

    served = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"SecretCam" not in served
    assert Image.open(io.BytesIO(served)).size == (40, 30)
    assert photo.image.name == f"stations/photos/{photo.uuid}.jpg"


def test_a_non_image_upload_is_refused():
    from django.core.exceptions import ValidationError

    station = make_station()

    with pytest.raises(ValidationError):
        station_photo_add(station=station, data=b"<html><script>x</script></html>")
    with pytest.raises(ValidationError):
        station_photo_add(station=station, data=b"GIF89a" + b"\x00" * 20)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "supplies_missing", "text": "水" * 501},
        {"kind": "supplies_missing", "contact": "not-a-phone"},
        {"kind": "other", "text": ""},
        {"kind": "no-such-kind"},
    ],
)
def test_the_action_guards_its_input_for_any_caller(kwargs):
    from django.core.exceptions import ValidationError

    from services.actions.stations import problem_report_submit

    station = make_station()

    with pytest.raises(ValidationError):
        problem_report_submit(station=station, **kwargs)
    assert ProblemReport.objects.count() == 0


def test_detail_back_link_returns_to_the_same_search(client):
    # given: a search by district with filters (and a parameter the list ignores)
    centre = DISTRICTS_BY_CODE["440305"]
    station = make_station(
        name="南山近站", lat=centre.lat, lng=centre.lng, has_water=True, has_aed=True
    )
    search = {"district": "440305", "radius": "10", "amenity": ["water", "aed"]}
    search_query = "district=440305&radius=10&amenity=water&amenity=aed"
    listing = client.get(LIST, {**search, "utm": "x"})

    # when: the worker opens the station from the list
    link = listing.context["rows"][0]["url"]
    detail = client.get(link)

    # then: the detail page leads back to the same results
    assert link == f"{station.get_absolute_url()}?{search_query}"
    assert listing.context["map_data"][0]["url"] == link
    assert detail.context["back"] == f"{LIST}?{search_query}"
    body = detail.content.decode()
    assert f'href="{LIST}?{search_query.replace("&", "&amp;")}"' in body
    back = client.get(detail.context["back"])
    assert [r["station"].pk for r in back.context["rows"]] == [station.pk]


def test_detail_without_a_search_links_back_to_the_plain_list(client):
    station = make_station()

    detail = client.get(station.get_absolute_url())

    assert detail.context["back"] == LIST


def test_report_keeps_the_search_for_the_back_link(client):
    station = make_station()
    here = f"{station.get_absolute_url()}?district=440305"

    response = client.post(here, {"kind": "supplies_missing"})

    assert response["Location"] == f"{here}#messages"
    assert client.get(response["Location"]).context["back"] == (
        f"{LIST}?district=440305"
    )
