"""A rider in Nanshan finds the nearest open rest station on a phone."""

from urllib.parse import parse_qs, urlparse

import pytest

from services.geo import wgs84_to_bd09, wgs84_to_gcj02
from tests.services.stations_factories import make_station

pytestmark = pytest.mark.django_db(transaction=True)

HERE = (22.5405, 113.9340)  # Nanshan, near Shenzhen Bay


def test_geolocated_rider_sees_the_nearest_open_station_first(phone_page, live_server):
    # given: a closed station 150 m away, an open one 700 m away, another at 1.5 km
    make_station(name="近但已关门", lat=HERE[0] + 0.00135, lng=HERE[1])
    open_near = make_station(
        name="科技园暖蜂驿站", lat=HERE[0] + 0.0063, lng=HERE[1], is_24h=True
    )
    make_station(name="远一点的驿站", lat=HERE[0] + 0.0135, lng=HERE[1], is_24h=True)
    context = phone_page.context
    context.grant_permissions(["geolocation"], origin=live_server.url)
    context.set_geolocation({"latitude": HERE[0], "longitude": HERE[1]})

    # when: the rider opens 附近驿站 from the home page
    phone_page.goto(live_server.url + "/")
    phone_page.get_by_role("link", name="附近驿站").click()
    phone_page.wait_for_url("**lat=*")

    # then: the nearest open station is first, with distance and status
    cards = phone_page.locator(".station-card")
    assert cards.count() == 3
    first = cards.first
    assert first.locator("h3").inner_text() == "科技园暖蜂驿站"
    assert first.locator(".distance").inner_text() == "700 米"
    assert "营业中" in first.locator(".open-badge").inner_text()
    assert "已休息" in cards.nth(2).locator(".open-badge").inner_text()
    # and its navigation links carry converted (GCJ-02 / BD-09) coordinates
    lat, lng = float(open_near.latitude), float(open_near.longitude)
    amap = urlparse(first.locator("a.nav-amap").get_attribute("href"))
    g_lat, g_lng = wgs84_to_gcj02(lat, lng)
    assert amap.netloc == "uri.amap.com"
    assert parse_qs(amap.query)["position"] == [f"{g_lng:.6f},{g_lat:.6f}"]
    assert parse_qs(amap.query)["position"] != [f"{lng:.6f},{lat:.6f}"]
    baidu = urlparse(first.locator("a.nav-baidu").get_attribute("href"))
    b_lat, b_lng = wgs84_to_bd09(lat, lng)
    assert parse_qs(baidu.query)["location"] == [f"{b_lat:.6f},{b_lng:.6f}"]
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390


def test_rider_who_refuses_location_picks_a_district(phone_page, live_server):
    # given: no geolocation permission
    station = make_station(name="南山中心驿站", lat=22.5343, lng=113.9305, is_24h=True)

    # when
    phone_page.goto(live_server.url + "/services/stations/")
    phone_page.get_by_text("没有获得位置权限").wait_for()
    phone_page.get_by_label("没有定位?选择所在区").select_option("440305")
    phone_page.get_by_role("button", name="查找驿站").click()

    # then
    phone_page.get_by_role("heading", name="南山区附近的驿站").wait_for()
    assert phone_page.locator(".station-card h3").all_inner_texts() == [station.name]


def test_rider_reports_a_problem_from_the_station_page(phone_page, live_server):
    from services.models import ProblemReport

    station = make_station(name="南山中心驿站", is_24h=True)

    phone_page.goto(live_server.url + station.get_absolute_url())
    phone_page.get_by_label("设施或物资缺失").check()
    phone_page.get_by_label("具体情况(选填,选“其他问题”时必填)").fill("饮水机没水了")
    phone_page.get_by_role("button", name="提交反馈").click()

    phone_page.get_by_text("谢谢!问题已转给运营驿站的工会处理。").wait_for()
    report = ProblemReport.objects.get()
    assert (report.kind, report.text) == ("supplies_missing", "饮水机没水了")


BLANK_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def test_map_view_shows_every_listed_station(phone_page, live_server, settings):
    # given a tile key, and tile requests answered by a blank PNG
    settings.TIANDITU_KEY = "test-key"
    for n in range(3):
        make_station(name=f"驿站{n}", lat=HERE[0] + 0.002 * n, lng=HERE[1], is_24h=True)
    tiles: list[str] = []

    def blank_tile(route):
        tiles.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=BLANK_PNG)

    phone_page.route("https://*.tianditu.gov.cn/**", blank_tile)
    csp_errors: list[str] = []
    phone_page.on(
        "console",
        lambda msg: (
            csp_errors.append(msg.text)
            if "Content Security Policy" in msg.text
            else None
        ),
    )

    # when
    phone_page.goto(f"{live_server.url}/services/stations/?lat={HERE[0]}&lng={HERE[1]}")
    phone_page.get_by_role("button", name="显示地图").click()

    # then
    phone_page.locator(".leaflet-marker-icon").nth(2).wait_for()
    assert phone_page.locator(".leaflet-marker-icon").count() == 3
    phone_page.wait_for_function(
        "document.querySelectorAll('.leaflet-tile-loaded').length > 0"
    )
    assert any("T=vec_w" in url and "tk=test-key" in url for url in tiles)
    assert any("T=cva_w" in url for url in tiles)
    assert csp_errors == []
