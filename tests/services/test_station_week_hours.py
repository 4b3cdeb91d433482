"""Station.week_hours: the station's weekly hours as text, kept by database
triggers (services migration 0010) whatever path writes the hours rows. The
nearest search reads it instead of aggregating hours rows per request."""

from __future__ import annotations

import threading
from datetime import time

import pytest
from django.db import connection, connections, transaction

from services.actions.stations import station_set_hours
from services.models import Station, StationHours
from services.selectors.stations import _weekly, nearby_stations
from tests.services.stations_factories import NANSHAN, every_day, make_station
from tests.sqlite_run import pytest_on_sqlite

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL only"
)


def week_of(station: Station) -> str:
    return Station.objects.values_list("week_hours", flat=True).get(pk=station.pk)


def test_new_station_has_an_empty_week():
    station = make_station()
    assert week_of(station) == ""
    assert station.week_hours == ""


def test_set_hours_writes_the_week_ordered_by_day_then_opening():
    station = make_station()
    station_set_hours(
        station=station,
        weekly={
            2: [(time(14, 0), time(20, 0)), (time(8, 0), time(12, 0))],
            0: [(time(22, 0), time(2, 0))],
        },
    )
    assert week_of(station) == (
        "0 22:00:00 02:00:00,2 08:00:00 12:00:00,2 14:00:00 20:00:00"
    )
    assert _weekly(week_of(station)) == {
        0: ((time(22, 0), time(2, 0)),),
        2: ((time(8, 0), time(12, 0)), (time(14, 0), time(20, 0))),
    }


def test_update_and_delete_of_rows_refresh_the_week():
    station = make_station(hours=every_day(time(8, 0), time(22, 0)))
    assert week_of(station).count(",") == 6
    StationHours.objects.filter(station=station, weekday=6).update(closes=time(18, 30))
    assert week_of(station).endswith("6 08:00:00 18:30:00")
    StationHours.objects.filter(station=station, weekday__gte=1).delete()
    assert week_of(station) == "0 08:00:00 22:00:00"
    StationHours.objects.filter(station=station).delete()
    assert week_of(station) == ""


def test_one_row_saved_through_the_model_refreshes_the_week():
    station = make_station()
    row = StationHours.objects.create(
        station=station, weekday=4, opens=time(9, 0), closes=time(17, 0)
    )
    assert week_of(station) == "4 09:00:00 17:00:00"
    row.closes = time(19, 0)
    row.save()
    assert week_of(station) == "4 09:00:00 19:00:00"
    row.delete()
    assert week_of(station) == ""


def test_moving_a_row_to_another_station_refreshes_both():
    a = make_station(name="甲", hours={1: [(time(8, 0), time(9, 0))]})
    b = make_station(name="乙")
    StationHours.objects.filter(station=a).update(station=b)
    assert week_of(a) == ""
    assert week_of(b) == "1 08:00:00 09:00:00"


def test_other_stations_are_untouched():
    a = make_station(name="甲", hours=every_day(time(8, 0), time(22, 0)))
    b = make_station(name="乙", hours={3: [(time(10, 0), time(11, 0))]})
    before = week_of(a)
    station_set_hours(station=b, weekly={5: [(time(7, 0), time(8, 0))]})
    assert week_of(a) == before
    assert week_of(b) == "5 07:00:00 08:00:00"


def test_a_station_save_does_not_clobber_the_week():
    """The column is not editable and never written by the application: saving
    a station instance loaded before its hours changed keeps the new week."""
    station = make_station()
    stale = Station.objects.get(pk=station.pk)
    station_set_hours(station=station, weekly={0: [(time(8, 0), time(9, 0))]})
    stale.name = "新名字"
    stale.save()
    assert week_of(station) == "0 08:00:00 09:00:00"


def test_nearest_search_reads_the_stored_week(settings):
    station = make_station(hours=every_day(time(0, 0), time(23, 59, 59)))
    rows = nearby_stations(lat=NANSHAN[0], lng=NANSHAN[1], radius_km=1)
    assert [r.id for r in rows] == [station.pk]
    assert rows[0].status.is_open


@on_postgresql
def test_raw_insert_without_the_column_gets_the_database_default():
    flags = [f.column for f in Station._meta.fields if f.name.startswith("has_")]
    columns = [
        *("name", "operator_name", "address", "county_code", "latitude"),
        *("longitude", "is_24h", *flags, "phone", "access_method", "access_note"),
        *("is_active", "created_at", "updated_at"),
    ]
    values = [
        *("'raw'", "''", "'x'", "'440305'", "22.5", "113.9", "false"),
        *(["false"] * len(flags)),
        *("''", "'open'", "''", "true", "now()", "now()"),
    ]
    sql = (
        f"INSERT INTO {Station._meta.db_table} ({', '.join(columns)})"  # noqa: S608
        f" VALUES ({', '.join(values)}) RETURNING id"
    )
    with connection.cursor() as cur:
        cur.execute(sql)
        pk = cur.fetchone()[0]
    assert Station.objects.get(pk=pk).week_hours == ""


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_on_one_station_leave_the_full_week():
    """Two transactions add hours to the same station at once: the second
    trigger waits for the first's lock on the station row, then aggregates with
    a fresh snapshot, so the week holds both rows (not just its own)."""
    station = make_station()
    first_inserted = threading.Event()
    release_first = threading.Event()
    errors: list[BaseException] = []

    def first():
        try:
            with transaction.atomic():
                StationHours.objects.create(
                    station=station, weekday=0, opens=time(8, 0), closes=time(9, 0)
                )
                first_inserted.set()
                release_first.wait(10)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    def second():
        try:
            first_inserted.wait(10)
            with transaction.atomic():
                StationHours.objects.create(
                    station=station, weekday=1, opens=time(8, 0), closes=time(9, 0)
                )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    t1 = threading.Thread(target=first)
    t2 = threading.Thread(target=second)
    t1.start()
    t2.start()
    first_inserted.wait(10)
    t2.join(0.5)
    assert t2.is_alive(), "the second writer should wait for the first's lock"
    release_first.set()
    t1.join(10)
    t2.join(10)
    assert not errors, errors
    assert week_of(station) == "0 08:00:00 09:00:00,1 08:00:00 09:00:00"


@pytest.mark.slow
@pytest.mark.django_db(databases=[])
def test_the_triggers_work_on_sqlite_too():
    result = pytest_on_sqlite(
        "tests/services/test_station_week_hours.py",
        "-k",
        "not sqlite_too",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
