"""Distances and Chinese datum conversions against published reference values.

References:
* Haversine, Nashville BNA (36.12, -86.67) to Los Angeles LAX (33.94, -118.40),
  R = 6371 km: 2886.444442837983 km (Rosetta Code "Haversine formula").
* One degree of longitude on the equator: 2 * pi * 6371 / 360 = 111.194926644559 km.
* wandergis/coordtransform README, input (lng 116.404, lat 39.915):
  wgs84togcj02 -> [116.41024449916938, 39.91640428150164],
  gcj02tobd09  -> [116.41036949371029, 39.92133699351021];
  and wgs84 -> bd09 of the same point -> [116.41662724378733, 39.922699552216216]
  (coordtransform chained; the same figures appear in several ports' tests).
"""

import math

import pytest

from services.geo import (
    bounding_box,
    gcj02_to_bd09,
    haversine_km,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)


def test_haversine_matches_the_published_nashville_to_los_angeles_figure():
    km = haversine_km(36.12, -86.67, 33.94, -118.40)

    assert km == pytest.approx(2886.444442837983, abs=0.001)  # within a metre


def test_haversine_on_the_equator_is_the_arc_length():
    assert haversine_km(0, 0, 0, 1) == pytest.approx(
        2 * math.pi * 6371 / 360, abs=0.001
    )
    assert haversine_km(0, 0, 0, 0.001) * 1000 == pytest.approx(111.195, abs=0.001)


def test_haversine_of_a_point_to_itself_is_zero():
    assert haversine_km(22.5333, 113.9305, 22.5333, 113.9305) == 0.0


def test_wgs84_to_gcj02_matches_coordtransform_readme():
    lat, lng = wgs84_to_gcj02(39.915, 116.404)

    assert lng == pytest.approx(116.41024449916938, abs=1e-12)
    assert lat == pytest.approx(39.91640428150164, abs=1e-12)


def test_gcj02_to_bd09_matches_coordtransform_readme():
    lat, lng = gcj02_to_bd09(39.915, 116.404)

    assert lng == pytest.approx(116.41036949371029, abs=1e-12)
    assert lat == pytest.approx(39.92133699351021, abs=1e-12)


def test_wgs84_to_bd09_chains_both_steps():
    lat, lng = wgs84_to_bd09(39.915, 116.404)

    assert lng == pytest.approx(116.41662724378733, abs=1e-12)
    assert lat == pytest.approx(39.922699552216216, abs=1e-12)


def test_points_outside_china_are_not_shifted():
    assert wgs84_to_gcj02(51.5007, -0.1246) == (51.5007, -0.1246)


def test_the_gcj02_offset_in_shenzhen_is_hundreds_of_metres_not_zero():
    lat, lng = wgs84_to_gcj02(22.5333, 113.9305)

    offset_m = haversine_km(22.5333, 113.9305, lat, lng) * 1000
    assert 200 < offset_m < 800


def test_bounding_box_contains_the_whole_circle():
    lat, lng, radius = 22.5333, 113.9305, 5.0
    min_lat, max_lat, min_lng, max_lng = bounding_box(lat, lng, radius)

    # The circle's extreme points are inside the box, and the box is not huge.
    assert haversine_km(lat, lng, max_lat, lng) >= radius
    assert haversine_km(lat, lng, min_lat, lng) >= radius
    assert haversine_km(lat, lng, lat, max_lng) >= radius
    assert haversine_km(lat, lng, lat, min_lng) >= radius
    assert haversine_km(lat, lng, max_lat, lng) < radius * 1.01
