"""Links that open a phone's map app at a station, in the app's own datum."""

from __future__ import annotations

import string

from services.geo import gcj02_to_bd09, wgs84_to_gcj02


def amap_url(*, lat: float, lng: float, name: str) -> str:
    """Amap URI API marker (GCJ-02); opens the app when installed."""
    return map_links(lat=lat, lng=lng, name=name)[0]


def baidu_url(*, lat: float, lng: float, name: str, address: str = "") -> str:
    """Baidu map marker (BD-09 lat/lng)."""
    return map_links(lat=lat, lng=lng, name=name, address=address)[1]


# urllib.parse.quote(text, safe="") as one str.translate over the UTF-8 bytes
# (same output, a fraction of the cost: this runs for every row of the API).
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "_.-~")
_QUOTE = {i: chr(i) if chr(i) in _UNRESERVED else f"%{i:02X}" for i in range(256)}


def quote(text: str, safe: str = "") -> str:
    assert safe == ""  # noqa: S101 - only the fully escaped form is provided
    return text.encode().decode("latin-1").translate(_QUOTE)


def map_links(
    *, lat: float, lng: float, name: str, address: str = ""
) -> tuple[str, str]:
    """(Amap link, Baidu link) from one WGS-84 -> GCJ-02 conversion (BD-09 is
    derived from GCJ-02)."""
    g_lat, g_lng = wgs84_to_gcj02(lat, lng)
    b_lat, b_lng = gcj02_to_bd09(g_lat, g_lng)
    q_name = quote(name, safe="")
    amap = (
        f"https://uri.amap.com/marker?position={g_lng:.6f}%2C{g_lat:.6f}"
        f"&name={q_name}&src=union-portal&coordinate=gaode&callnative=1"
    )
    content = quote(address, safe="") if address else q_name
    baidu = (
        f"https://api.map.baidu.com/marker?location={b_lat:.6f}%2C{b_lng:.6f}"
        f"&title={q_name}&content={content}"
        "&coord_type=bd09ll&output=html&src=webapp.union-portal.stations"
    )
    return amap, baidu
