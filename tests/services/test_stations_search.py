"""Nearest search in SQL: distances, ordering, radius, filters and open-now."""

from datetime import date, datetime, time, timedelta

import pytest

from services.geo import haversine_km
from services.models import StationHoliday
from services.opening_hours import SHANGHAI, open_status
from services.selectors.stations import (
    schedule_of,
    station_nearby_queryset,
    station_search,
)
from tests.services.stations_factories import NANSHAN, every_day, make_station

pytestmark = pytest.mark.django_db

LAT, LNG = NANSHAN
FRI_2359 = datetime(2025, 1, 3, 23, 59, tzinfo=SHANGHAI)
SAT_0000 = datetime(2025, 1, 4, 0, 0, tzinfo=SHANGHAI)


def north(km: float) -> tuple[float, float]:
    """A point `km` due north of Nanshan (1 degree of latitude = 111.195 km)."""
    return LAT + km / 111.19492664455873, LNG


def test_sql_distance_matches_the_published_pair_to_the_metre():
    # given a station at LAX and a query from Nashville (Rosetta Code pair)
    make_station(name="LAX", lat=33.94, lng=-118.40, county_code="000000")

    # when
    row = station_nearby_queryset(lat=36.12, lng=-86.67, radius_km=3000).get()

    # then
    assert row.distance_km == pytest.approx(2886.444442837983, abs=0.001)


def test_sql_distance_agrees_with_python_for_short_distances():
    station = make_station(lat=22.540012, lng=113.934567)

    row = station_nearby_queryset(lat=LAT, lng=LNG, radius_km=5).get()

    expected = haversine_km(LAT, LNG, 22.540012, 113.934567)
    assert row.pk == station.pk
    assert row.distance_km == pytest.approx(expected, abs=1e-6)
    assert round(row.distance_km * 1000) == 855


def test_results_are_ordered_by_distance_and_limited_to_the_radius():
    # given stations at 0.3, 1.0 and 3.5 km, one at 6 km and an inactive one
    far = make_station(name="3.5km", lat=north(3.5)[0], lng=LNG)
    near = make_station(name="0.3km", lat=north(0.3)[0], lng=LNG)
    mid = make_station(name="1km", lat=north(1.0)[0], lng=LNG)
    make_station(name="6km", lat=north(6)[0], lng=LNG)
    make_station(name="inactive", lat=north(0.1)[0], lng=LNG, is_active=False)

    # when
    hits = station_search(lat=LAT, lng=LNG, radius_km=4)

    # then
    assert [h.station.pk for h in hits] == [near.pk, mid.pk, far.pk]
    assert [round(h.distance_km, 3) for h in hits] == [0.3, 1.0, 3.5]


def test_the_corner_of_the_bounding_box_is_outside_the_circle():
    # 2.9 km north and 2.9 km east: inside the 3 km box, 4.1 km away
    dlng = 2.9 / (111.19492664455873 * 0.9236)
    make_station(lat=north(2.9)[0], lng=LNG + dlng)

    assert station_search(lat=LAT, lng=LNG, radius_km=3) == []
    assert len(station_search(lat=LAT, lng=LNG, radius_km=4.5)) == 1


def test_amenity_filters_combine_with_and():
    both = make_station(name="both", has_microwave=True, has_water=True)
    make_station(name="microwave only", has_microwave=True)
    make_station(name="none")

    hits = station_search(lat=LAT, lng=LNG, amenities=["microwave", "water"])
    assert [h.station.pk for h in hits] == [both.pk]
    assert len(station_search(lat=LAT, lng=LNG, amenities=["microwave"])) == 2
    assert len(station_search(lat=LAT, lng=LNG)) == 3


def test_is_24h_filter():
    always = make_station(name="24h", is_24h=True)
    make_station(name="day", hours=every_day(time(8), time(20)))

    hits = station_search(lat=LAT, lng=LNG, is_24h=True)

    assert [h.station.pk for h in hits] == [always.pk]


def test_open_now_filter_at_2359_and_0000_across_midnight():
    # given a night station (Fri 22:00-02:00), a day station and a 24 h one
    night = make_station(name="night", hours={4: [(time(22), time(2))]})
    make_station(name="day", hours=every_day(time(8), time(20)), lat=north(0.1)[0])
    always = make_station(name="24h", is_24h=True, lat=north(0.2)[0])

    # then: the night station is open late Friday and just after midnight
    at_2359 = station_search(lat=LAT, lng=LNG, open_now=True, at=FRI_2359)
    at_0000 = station_search(lat=LAT, lng=LNG, open_now=True, at=SAT_0000)
    at_0200 = station_search(
        lat=LAT, lng=LNG, open_now=True, at=SAT_0000 + timedelta(hours=2)
    )
    assert [h.station.pk for h in at_2359] == [night.pk, always.pk]
    assert [h.station.pk for h in at_0000] == [night.pk, always.pk]
    assert [h.station.pk for h in at_0200] == [always.pk]
    assert all(h.status.is_open for h in at_2359 + at_0000)


def test_open_first_puts_the_nearest_open_station_first():
    closed = make_station(name="closed now", hours=every_day(time(8), time(20)))
    open_one = make_station(name="open", is_24h=True, lat=north(1)[0])

    hits = station_search(lat=LAT, lng=LNG, open_first=True, at=FRI_2359)

    assert [h.station.pk for h in hits] == [open_one.pk, closed.pk]
    assert hits[1].status.opens_at == datetime(2025, 1, 4, 8, 0, tzinfo=SHANGHAI)


def test_holiday_override_is_applied_in_sql():
    station = make_station(name="night", hours={4: [(time(22), time(2))]})
    StationHoliday.objects.create(station=station, date=date(2025, 1, 3))

    assert station_search(lat=LAT, lng=LNG, open_now=True, at=FRI_2359) == []
    assert station_search(lat=LAT, lng=LNG, open_now=True, at=SAT_0000) == []


def test_sql_and_python_open_now_agree_every_half_hour_for_three_days():
    # given stations covering every kind of schedule
    make_station(
        name="night", hours={4: [(time(22), time(2))], 5: [(time(0), time(6))]}
    )
    make_station(name="split", hours={4: [(time(8), time(12)), (time(14), time(0))]})
    make_station(name="24h", is_24h=True)
    s = make_station(name="24h+hol", is_24h=True)
    StationHoliday.objects.create(station=s, date=date(2025, 1, 4))
    h = make_station(name="hol", hours=every_day(time(9), time(17)))
    StationHoliday.objects.create(
        station=h,
        date=date(2025, 1, 3),
        is_closed=False,
        opens=time(20),
        closes=time(3),
    )
    make_station(name="never")

    start = datetime(2025, 1, 3, 0, 0, tzinfo=SHANGHAI)
    for step in range(0, 3 * 48):
        moment = start + timedelta(minutes=30 * step)
        # when
        sql_open = {
            hit.station.name
            for hit in station_search(lat=LAT, lng=LNG, open_now=True, at=moment)
        }
        hits = station_search(lat=LAT, lng=LNG, at=moment)
        python_open = {
            hit.station.name
            for hit in hits
            if open_status(schedule_of(hit.station), moment).is_open
        }
        listed_open = {hit.station.name for hit in hits if hit.status.is_open}
        # then
        assert sql_open == python_open == listed_open, moment
