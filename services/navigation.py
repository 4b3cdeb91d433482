"""Links that open a phone's map app at a station, in the app's own datum."""

from __future__ import annotations

from urllib.parse import urlencode

from services.geo import wgs84_to_bd09, wgs84_to_gcj02


def amap_url(*, lat: float, lng: float, name: str) -> str:
    """Amap URI API marker (GCJ-02); opens the app when installed."""
    g_lat, g_lng = wgs84_to_gcj02(lat, lng)
    query = urlencode(
        {
            "position": f"{g_lng:.6f},{g_lat:.6f}",
            "name": name,
            "src": "union-portal",
            "coordinate": "gaode",
            "callnative": "1",
        }
    )
    return f"https://uri.amap.com/marker?{query}"


def baidu_url(*, lat: float, lng: float, name: str, address: str = "") -> str:
    """Baidu map marker (BD-09 lat/lng)."""
    b_lat, b_lng = wgs84_to_bd09(lat, lng)
    query = urlencode(
        {
            "location": f"{b_lat:.6f},{b_lng:.6f}",
            "title": name,
            "content": address or name,
            "coord_type": "bd09ll",
            "output": "html",
            "src": "webapp.union-portal.stations",
        }
    )
    return f"https://api.map.baidu.com/marker?{query}"
