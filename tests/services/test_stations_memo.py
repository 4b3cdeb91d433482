"""The per-second memo of open statuses and their texts (services.opening_hours.
SecondMemo): same answers as computing every row, recomputed when the second
changes, bounded in size."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.test import RequestFactory
from django.utils import translation

from services.apis.stations import station_list_payload
from services.opening_hours import SHANGHAI, SecondMemo, open_status
from services.selectors.stations import nearby_stations, schedule_of
from tests.services.stations_factories import NANSHAN, every_day, make_station

LAT, LNG = NANSHAN


def test_a_table_lives_for_one_second():
    memo = SecondMemo()
    table = memo.table(100)
    memo.remember(table, "k", 1)

    assert memo.table(100) is table
    assert memo.table(100)["k"] == 1
    assert memo.table(101) == {}
    assert memo.table(100) == {}  # going back is just another second


def test_a_full_table_stops_remembering_but_still_answers():
    memo = SecondMemo(max_size=2)
    table = memo.table(1)

    values = [memo.remember(table, key, key * 10) for key in range(5)]

    assert values == [0, 10, 20, 30, 40]
    assert len(table) == 2


@pytest.mark.django_db
def test_stations_sharing_hours_get_their_own_correct_status_each_second():
    hours = every_day(time(8, 0), time(22, 0))
    stations = [
        make_station(name=f"同款驿站 {i}", lat=LAT + i * 0.001, lng=LNG, hours=hours)
        for i in range(3)
    ]
    late = every_day(time(22, 0), time(2, 0))
    night = make_station(name="夜间驿站", lat=LAT, lng=LNG + 0.002, hours=late)
    before = datetime(2025, 1, 3, 21, 59, 59, 900_000, tzinfo=SHANGHAI)
    after = before + timedelta(microseconds=100_000)  # 22:00:00.000

    for at in (before, after, before):
        rows = nearby_stations(lat=LAT, lng=LNG, radius_km=2, at=at)
        by_id = {r.id: r.status for r in rows}
        for station in [*stations, night]:
            assert by_id[station.pk] == open_status(schedule_of(station), at)
    assert not by_id[night.pk].is_open  # 21:59:59 again: recomputed, not reused


@pytest.mark.django_db
def test_payload_texts_follow_the_language_and_the_second():
    make_station(name="白天驿站", hours=every_day(time(8, 0), time(22, 0)))
    request = RequestFactory().get("/api/v1/stations/")
    at = datetime(2025, 1, 3, 21, 0, tzinfo=SHANGHAI)
    rows = nearby_stations(lat=LAT, lng=LNG, radius_km=2, at=at)

    with translation.override("zh-hans"):
        zh = station_list_payload(rows, request=request, now=at)
    with translation.override("en"):
        en = station_list_payload(rows, request=request, now=at)

    assert zh["results"][0]["status"] != en["results"][0]["status"]
    assert "22:00" in zh["results"][0]["status"]
    assert zh["results"][0]["closes_at"] == "2025-01-03T22:00:00+08:00"


class _Interleaved(SecondMemo):
    """Runs `hook` (another thread's turn, simulated) right after the first
    attribute write inside table(): the spot where a thread switch can fall."""

    def __init__(self):
        super().__init__()
        self.hook = None

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)
        hook = getattr(self, "hook", None)
        if hook is not None and name != "hook":
            self.hook = None
            hook()


def test_a_thread_switch_mid_swap_never_mixes_two_seconds():
    """Thread A moves the memo to second 1, thread B to second 2 in between:
    A must not get B's table (statuses of another second), and whoever asks for
    second 1 afterwards must not either."""
    memo = _Interleaved()
    seen = {}

    def other_thread():
        table_b = memo.table(2)
        memo.remember(table_b, "schedule", "status at second 2")
        seen["b"] = table_b

    memo.hook = other_thread
    table_a = memo.table(1)

    assert "schedule" not in table_a
    assert "schedule" not in memo.table(1)
    assert seen["b"]["schedule"] == "status at second 2"
