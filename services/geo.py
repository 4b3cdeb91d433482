"""Plain geodesy for rest stations: great-circle distance and the Chinese map
datums.

Browsers report WGS-84. Amap (高德) and Tencent use GCJ-02, an obfuscated datum
offset by tens to hundreds of metres inside China; Baidu adds its own BD-09 on
top of GCJ-02. Links that open those apps must carry converted coordinates.

The formulas are the widely published ones (the same constants as the npm packages
`coordtransform` and `gcoord`); tests/services/test_stations_geo.py checks them
against the values printed in coordtransform's README. Outside China no offset
is applied, as in those libraries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0  # mean radius; the SQL distance uses the same value

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance on a sphere of EARTH_RADIUS_KM."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dlat = p2 - p1
    dlng = math.radians(lng2 - lng1)
    a = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def bounding_box(
    lat: float, lng: float, radius_km: float
) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lng, max_lng) enclosing a circle of radius_km.

    Slightly generous, never too tight. Longitudes are not wrapped at ±180°:
    stations are in China, far from the antimeridian.
    """
    radius_km *= 1.000001  # never too tight because of float rounding
    dlat = math.degrees(radius_km / EARTH_RADIUS_KM)
    cos_lat = math.cos(math.radians(min(89.0, abs(lat) + dlat)))
    dlng = min(180.0, math.degrees(radius_km / (EARTH_RADIUS_KM * cos_lat)))
    return (
        max(-90.0, lat - dlat),
        min(90.0, lat + dlat),
        max(-180.0, lng - dlng),
        min(180.0, lng + dlng),
    )


def out_of_china(lat: float, lng: float) -> bool:
    return not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y
    ret += 0.2 * math.sqrt(abs(x))
    ret += (
        (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi))
        * 2.0
        / 3.0
    )
    ret += (
        (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    )
    ret += (
        (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0))
        * 2.0
        / 3.0
    )
    return ret


def _transform_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (
        (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi))
        * 2.0
        / 3.0
    )
    ret += (
        (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    )
    ret += (
        (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi))
        * 2.0
        / 3.0
    )
    return ret


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    """WGS-84 (GPS, browsers, Tianditu) -> GCJ-02 (Amap, Tencent): (lat, lng)."""
    if out_of_china(lat, lng):
        return lat, lng
    dlat = _transform_lat(lng - 105.0, lat - 35.0)
    dlng = _transform_lng(lng - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = math.sin(radlat)
    magic = 1 - _EE * magic * magic
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlng = (dlng * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return lat + dlat, lng + dlng


def gcj02_to_bd09(lat: float, lng: float) -> tuple[float, float]:
    """GCJ-02 -> BD-09 (Baidu). Returns (lat, lng)."""
    z = math.sqrt(lng * lng + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def wgs84_to_bd09(lat: float, lng: float) -> tuple[float, float]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lng))


@dataclass(frozen=True)
class District:
    code: str  # GB/T 2260 county code
    name: str
    lat: float  # WGS-84, near the district government
    lng: float


# The typed fallback when a phone refuses geolocation. 大鹏新区 is a functional
# area inside Longgang (440307) with no code of its own, so its value is "dapeng".
SHENZHEN_DISTRICTS: tuple[District, ...] = (
    District("440304", "福田区", 22.5222, 114.0554),
    District("440303", "罗湖区", 22.5485, 114.1315),
    District("440305", "南山区", 22.5333, 113.9305),
    District("440306", "宝安区", 22.5553, 113.8830),
    District("440307", "龙岗区", 22.7210, 114.2470),
    District("440308", "盐田区", 22.5570, 114.2360),
    District("440309", "龙华区", 22.6965, 114.0450),
    District("440310", "坪山区", 22.6900, 114.3460),
    District("440311", "光明区", 22.7485, 113.9360),
    District("dapeng", "大鹏新区", 22.5930, 114.4790),
)
DISTRICTS_BY_CODE = {d.code: d for d in SHENZHEN_DISTRICTS}
