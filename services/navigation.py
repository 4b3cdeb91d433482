"""Links that open a phone's map app at a station, in the app's own datum."""

from __future__ import annotations

from urllib.parse import quote

from services.geo import wgs84_to_bd09, wgs84_to_gcj02


def amap_url(*, lat: float, lng: float, name: str) -> str:
    """Amap URI API marker (GCJ-02); opens the app when installed."""
    g_lat, g_lng = wgs84_to_gcj02(lat, lng)
    return (
        f"https://uri.amap.com/marker?position={g_lng:.6f}%2C{g_lat:.6f}"
        f"&name={quote(name, safe='')}&src=union-portal&coordinate=gaode&callnative=1"
    )


def baidu_url(*, lat: float, lng: float, name: str, address: str = "") -> str:
    """Baidu map marker (BD-09 lat/lng)."""
    b_lat, b_lng = wgs84_to_bd09(lat, lng)
    return (
        f"https://api.map.baidu.com/marker?location={b_lat:.6f}%2C{b_lng:.6f}"
        f"&title={quote(name, safe='')}&content={quote(address or name, safe='')}"
        "&coord_type=bd09ll&output=html&src=webapp.union-portal.stations"
    )
