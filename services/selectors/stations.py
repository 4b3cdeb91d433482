"""Reads for rest stations: nearest search, detail, and the admin's review flags.

Nearest search (stack.md "Nearest rest station"): a bounding-box range on the
indexed (latitude, longitude) columns, then the exact haversine distance in SQL,
filtered to the radius and ordered by it. The same ORM expression runs on SQLite
(Django registers SIN/COS/ASIN/... there) and on PostgreSQL; PostGIS is not needed.

"Open now" as a filter and as the open-first ordering is also SQL: correlated
EXISTS over the station's hours and holiday rows, evaluated only for rows that
survived the bounding box. The list's label ("至 22:00", "明天 08:00 开门") is then
computed in Python by services.opening_hours for the at most `limit` returned
rows, from their hours and holidays, which the same query returns folded into
text columns (one row per station); tests check the SQL and Python rules agree.
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    InterfaceError,
    OperationalError,
    connection,
    connections,
)
from django.db.models import (
    BooleanField,
    Count,
    DateField,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from members.models import UnionOrg
from services.geo import EARTH_RADIUS_KM, bounding_box
from services.models import (
    LAT_CELLS_PER_DEGREE,
    Amenity,
    ProblemReport,
    ProblemStatus,
    Station,
    StationHoliday,
    StationHours,
    amenity_field,
)
from services.opening_hours import (
    SHANGHAI,
    OpenStatus,
    Schedule,
    SecondMemo,
    open_status,
)

DEFAULT_RADIUS_KM = 4.0  # BR-S2: a 15-minute ride; 1.2 km is the walking radius
MAX_RADIUS_KM = 50.0
MAX_LIMIT = 50
_SIX = Decimal("0.000001")


@dataclass
class StationHit:
    station: Station
    distance_km: float
    status: OpenStatus


class HaversineKm(Func):
    """Great-circle distance in km from a fixed point to each row's
    (latitude, longitude), as one SQL expression:

        2R * ASIN(SQRT(SIN²((RADIANS(lat) - φ0) / 2)
                       + cos φ0 * COS(RADIANS(lat)) * SIN²((RADIANS(lng) - λ0) / 2)))

    The constants for the query point are computed in Python. One expression node
    instead of a tree of Sin/Cos/Power nodes keeps Django's per-query compile cost
    small (it dominated the request time in bench/stations.py). The functions are
    built into PostgreSQL and registered by Django on SQLite, so the SQL is the
    same on both.
    """

    output_field = FloatField()

    def __init__(self, *, lat: float, lng: float):
        super().__init__(F("latitude"), F("longitude"))
        self.lat0 = math.radians(lat)
        self.lng0 = math.radians(lng)
        self.cos_lat0 = math.cos(self.lat0)

    def as_sql(self, compiler, connection, **extra_context):
        lat_sql, lat_params = compiler.compile(self.source_expressions[0])
        lng_sql, lng_params = compiler.compile(self.source_expressions[1])
        sql = (
            f"(%s * ASIN(SQRT(POWER(SIN((RADIANS({lat_sql}) - %s) / 2.0), 2)"
            f" + %s * COS(RADIANS({lat_sql}))"
            f" * POWER(SIN((RADIANS({lng_sql}) - %s) / 2.0), 2))))"
        )
        params = (
            2.0 * EARTH_RADIUS_KM,
            *lat_params,
            self.lat0,
            self.cos_lat0,
            *lat_params,
            *lng_params,
            self.lng0,
        )
        return sql, params


def distance_km_expression(*, lat: float, lng: float) -> HaversineKm:
    """Haversine distance in km from (lat, lng) to each row, as SQL."""
    return HaversineKm(lat=lat, lng=lng)


# --- Raw SQL for the hot path --------------------------------------------------------
# The nearest search runs as hand-written SQL whose text is built once per variant
# (filters chosen), never per request: Django's compiler cost more CPU than the
# query itself. Placeholders are {name}; `_Statement` renders them as %s for the DB
# API and as $n for PostgreSQL's PREPARE. The SQL uses only what both SQLite and
# PostgreSQL understand (CTE, UNION ALL, IN lists; SIN/COS/... are registered by
# Django on SQLite).

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class _Statement:
    sql: str  # %s placeholders
    names: tuple[str, ...]  # the value for each %s, in order
    pg_sql: str  # $1.. placeholders, each name once
    pg_names: tuple[str, ...]

    @classmethod
    def build(cls, text: str) -> _Statement:
        names = tuple(_PLACEHOLDER.findall(text))
        distinct = tuple(dict.fromkeys(names))
        number = {name: i + 1 for i, name in enumerate(distinct)}
        return cls(
            sql=_PLACEHOLDER.sub("%s", text),
            names=names,
            pg_sql=_PLACEHOLDER.sub(lambda m: f"${number[m.group(1)]}", text),
            pg_names=distinct,
        )


_S = Station._meta.db_table
_H = StationHours._meta.db_table
_D = StationHoliday._meta.db_table
_O = UnionOrg._meta.db_table

# "Open at {t} on {today}" for the station row `{s}` (see services/opening_hours.py
# for the rules; a test checks both agree every 30 minutes over three days).
_OPEN_NOW = """(
  (NOT EXISTS (SELECT 1 FROM {D} d WHERE d.station_id = {s}.id AND d.date = {{today}})
   AND ({s}.is_24h OR EXISTS (SELECT 1 FROM {H} h WHERE h.station_id = {s}.id
        AND h.weekday = {{wd}} AND h.opens <= {{t}}
        AND (h.closes > {{t}} OR h.closes <= h.opens))))
  OR EXISTS (SELECT 1 FROM {D} d WHERE d.station_id = {s}.id AND d.date = {{today}}
        AND NOT d.is_closed AND d.opens <= {{t}}
        AND (d.closes > {{t}} OR d.closes <= d.opens))
  OR (NOT EXISTS (SELECT 1 FROM {D} d WHERE d.station_id = {s}.id
        AND d.date = {{yesterday}})
      AND NOT {s}.is_24h
      AND EXISTS (SELECT 1 FROM {H} h WHERE h.station_id = {s}.id
        AND h.weekday = {{ywd}} AND h.closes <= h.opens AND h.closes > {{t}}))
  OR EXISTS (SELECT 1 FROM {D} d WHERE d.station_id = {s}.id
        AND d.date = {{yesterday}} AND NOT d.is_closed
        AND d.closes <= d.opens AND d.closes > {{t}})
)"""


def _open_now_sql(station_ref: str) -> str:
    return _OPEN_NOW.format(D=_D, H=_H, s=station_ref)


_HAVERSINE = (
    f"({2.0 * EARTH_RADIUS_KM!r} * ASIN(SQRT("
    "POWER(SIN((RADIANS(s.latitude) - {lat0}) / 2.0), 2)"
    " + {cos_lat0} * COS(RADIANS(s.latitude))"
    " * POWER(SIN((RADIANS(s.longitude) - {lng0}) / 2.0), 2))))"
)
AMENITY_CODES: tuple[str, ...] = tuple(a.value for a in Amenity)
_AMENITY_MASK = " + ".join(
    f"CASE WHEN s.{amenity_field(code)} THEN {1 << i} ELSE 0 END"
    for i, code in enumerate(AMENITY_CODES)
)
# Latitude bands probed per query: a 50 km radius spans 0.9 degree = 18 bands,
# +1 for the CAST rounding and +1 for the end band (see Station.lat_cell).
CELL_SLOTS = 24
_CELLS = ", ".join(f"{{cell{i}}}" for i in range(CELL_SLOTS))


def lat_cells(min_lat: float, max_lat: float) -> list[int] | None:
    """The Station.lat_cell values a latitude range can touch, padded to
    CELL_SLOTS (repeats are harmless in an IN list), or None if too many."""
    low = math.floor(min_lat * LAT_CELLS_PER_DEGREE)
    high = math.floor(max_lat * LAT_CELLS_PER_DEGREE) + 1
    if high - low + 1 > CELL_SLOTS:
        return None
    cells = list(range(low, high + 1))
    return cells + [high] * (CELL_SLOTS - len(cells))


# Each station's week of hours and its coming holidays travel in its own row as
# text ("0 08:00:00 22:00:00,1 ..." / "2025-01-01 1 _ _,..."): ten rows instead of
# a hundred, and fewer values to convert in Python. The week is stored with the
# station (Station.week_hours, maintained by triggers); the holidays of the coming
# days are aggregated per request.
_AGGREGATE = {"postgresql": "string_agg", "sqlite": "group_concat"}


@functools.lru_cache(maxsize=256)
def _nearby_statement(
    amenities: frozenset[str],
    is_24h: bool,
    open_now: bool,
    open_first: bool,
    vendor: str = "postgresql",
) -> _Statement:
    """One SQL round trip: the nearest stations (CTE `top`), each with its
    weekly hours (Station.week_hours, kept by triggers) and its coming holidays
    (aggregated here: they depend on the date) as two text columns."""
    agg = _AGGREGATE.get(vendor, "string_agg")
    where = [
        f"s.lat_cell IN ({_CELLS})",
        "s.latitude >= {min_lat}",
        "s.latitude <= {max_lat}",
        "s.longitude >= {min_lng}",
        "s.longitude <= {max_lng}",
        "s.is_active",
        *(f"s.{amenity_field(code)}" for code in sorted(amenities)),
        *(["s.is_24h"] if is_24h else []),
        *([_open_now_sql("s")] if open_now else []),
        f"{_HAVERSINE} <= {{radius_km}}",
    ]
    is_open = _open_now_sql("s") if open_first else "NULL"
    order = "is_open DESC, distance_km, id" if open_first else "distance_km, id"
    outer_order = (
        "t.is_open DESC, t.distance_km, t.id" if open_first else "t.distance_km, t.id"
    )
    # Only constants and fixed column names go into the text; values are parameters.
    text = f"""WITH top AS (
  SELECT s.id, {_HAVERSINE} AS distance_km, {is_open} AS is_open, s.name,
         s.address, s.operator_name, s.org_id, s.latitude, s.longitude,
         s.is_24h, s.star_level, s.phone, {_AMENITY_MASK} AS amenity_mask,
         s.week_hours
  FROM {_S} s
  WHERE {" AND ".join(where)}
  ORDER BY {order}
  LIMIT {{limit}}
)
SELECT t.id, t.distance_km, t.is_open, t.name, t.address, t.operator_name,
       o.name, CAST(t.latitude AS double precision),
       CAST(t.longitude AS double precision), t.is_24h, t.star_level, t.phone,
       t.amenity_mask, t.week_hours,
       (SELECT {agg}(CAST(d.date AS text)
                     || CASE WHEN d.is_closed THEN ' 1' ELSE ' 0' END
                     || ' ' || COALESCE(CAST(d.opens AS text), '_')
                     || ' ' || COALESCE(CAST(d.closes AS text), '_'), ',')
        FROM {_D} d WHERE d.station_id = t.id
          AND d.date >= {{holidays_from}} AND d.date <= {{holidays_to}})
FROM top t LEFT JOIN {_O} o ON o.id = t.org_id
ORDER BY {outer_order}"""  # noqa: S608
    return _Statement.build(text)


# Server-side prepared statements (PREPARE once per connection, EXECUTE after) skip
# PostgreSQL's parse + plan on every request. Off behind PgBouncer in transaction
# mode, where a session's statements do not follow the client
# (settings.DB_PREPARED_STATEMENTS).
_MAX_PREPARED = 32


def _run(statement: _Statement, values: dict, conn=None) -> list[tuple]:
    # The thread's DatabaseWrapper itself: every attribute read through the
    # `connection` proxy is a context-local lookup.
    conn = conn or connections[DEFAULT_DB_ALIAS]
    # With CONN_HEALTH_CHECKS Django spends a round trip (SELECT 1) on the first
    # query of every request. This read is idempotent, so outside a transaction
    # it skips that check and instead retries once on a fresh connection if the
    # reused one turns out to be dead.
    optimistic = (
        conn.connection is not None
        and conn.health_check_enabled
        and not conn.health_check_done
        and not conn.in_atomic_block
    )
    if optimistic:
        conn.health_check_done = True
        try:
            return _execute(conn, statement, values)
        except (OperationalError, InterfaceError):
            conn.close()
    return _execute(conn, statement, values)


def _execute(conn, statement: _Statement, values: dict) -> list[tuple]:
    with conn.cursor() as cur:
        if conn.vendor == "postgresql" and settings.DB_PREPARED_STATEMENTS:
            name = _prepared_name(conn, cur, statement)
            if name is not None:
                args = [values[n] for n in statement.pg_names]
                literals = _literals(args)
                if literals is None:  # a value of another kind: psycopg2 quotes
                    cur.execute(
                        f"EXECUTE {name} ({', '.join(['%s'] * len(args))})", args
                    )
                else:
                    cur.execute(f"EXECUTE {name} ({literals})")
                return cur.fetchall()
        cur.execute(statement.sql, [values[n] for n in statement.names])
        return cur.fetchall()


# EXECUTE's arguments written as SQL literals here rather than by psycopg2's
# per-value adaptation (a tenth of the request's client CPU for ~35 values). Only
# kinds whose text cannot carry SQL are written: finite floats (repr), ints,
# bools, dates and times (ISO text) and ISO date / time strings; anything else
# (None, other text) makes the whole call go through psycopg2's quoting.
_ISO_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?")


def _literals(args: list) -> str | None:
    out = []
    for value in args:
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                return None
            # Quoted: PostgreSQL reads it straight into the float8 parameter; a
            # bare 0.5 is parsed as numeric first, then converted (~1.5 µs more
            # of server CPU per argument).
            out.append(f"'{value!r}'")
        elif kind is int:
            out.append(str(value))
        elif kind is bool:
            out.append("true" if value else "false")
        elif kind is date or kind is time:  # PostgreSQL's adapters pass these
            out.append(f"'{value.isoformat()}'")
        elif kind is str and _ISO_TEXT.fullmatch(value):
            out.append(f"'{value}'")
        else:
            return None
    return ", ".join(out)


def _prepared_name(conn, cur, statement: _Statement) -> str | None:
    raw = conn.connection  # the psycopg connection; a new one after a reconnect
    state = getattr(conn, "_stations_prepared", None)
    if state is None or state[0] is not raw:
        state = (raw, {})
        conn._stations_prepared = state
    names = state[1]
    name = names.get(statement)
    if name is None:
        if len(names) >= _MAX_PREPARED:
            return None
        name = f"stations_nearby_{len(names)}"
        cur.execute(f"PREPARE {name} AS {statement.pg_sql}")
        names[statement] = name
    return name


@dataclass(slots=True)
class NearbyStation:
    """One row of the nearest search: plain values, no model instance."""

    id: int
    name: str
    address: str
    operator: str
    latitude: float
    longitude: float
    is_24h: bool
    star_level: int | None
    phone: str
    amenities: list[str]
    distance_km: float
    status: OpenStatus


def search_arguments(
    *, lat: float, lng: float, radius_km: float, limit: int, at: datetime, ops
) -> dict:
    """The nearest-stations statement's named arguments for a search at `at`
    (`ops`: the connection's DatabaseOperations, which adapt dates and times)."""
    radius_km = min(radius_km, MAX_RADIUS_KM)
    min_lat, max_lat, min_lng, max_lng = bounding_box(lat, lng, radius_km)
    local = at.astimezone(SHANGHAI).replace(microsecond=0)
    today = local.date()
    yesterday = today - timedelta(days=1)
    cells = lat_cells(min_lat, max_lat)
    assert cells is not None  # noqa: S101 - MAX_RADIUS_KM fits CELL_SLOTS
    values = {f"cell{i}": c for i, c in enumerate(cells)}
    lat0 = math.radians(lat)
    values.update(
        min_lat=min_lat,
        max_lat=max_lat,
        min_lng=min_lng,
        max_lng=max_lng,
        lat0=lat0,
        lng0=math.radians(lng),
        cos_lat0=math.cos(lat0),
        radius_km=float(radius_km),
        limit=max(1, min(int(limit), MAX_LIMIT)),
        today=ops.adapt_datefield_value(today),
        yesterday=ops.adapt_datefield_value(yesterday),
        wd=today.weekday(),
        ywd=yesterday.weekday(),
        t=ops.adapt_timefield_value(local.time()),
        holidays_from=ops.adapt_datefield_value(yesterday),
        holidays_to=ops.adapt_datefield_value(today + timedelta(days=8)),
    )
    return values


def nearby_stations(
    *,
    lat: float,
    lng: float,
    radius_km: float = DEFAULT_RADIUS_KM,
    open_now: bool = False,
    amenities: Sequence[str] = (),
    is_24h: bool = False,
    open_first: bool = False,
    limit: int = 20,
    at: datetime | None = None,
) -> list[NearbyStation]:
    """The nearest active stations within radius_km (≤ MAX_RADIUS_KM), nearest
    first (open ones first if open_first), with open status at `at`: one query."""
    at = at or timezone.now()
    conn = connections[DEFAULT_DB_ALIAS]
    values = search_arguments(
        lat=lat, lng=lng, radius_km=radius_km, limit=limit, at=at, ops=conn.ops
    )
    statement = _nearby_statement(
        frozenset(Amenity(code).value for code in amenities),
        bool(is_24h),
        bool(open_now),
        bool(open_first),
        conn.vendor,
    )
    out = []
    # open_status() keeps only whole seconds, so within one second a station's
    # status depends on nothing but its (is_24h, hours, holidays) texts.
    statuses = _STATUS_MEMO.table(int(at.timestamp()))
    for r in _run(statement, values, conn):
        pk, mask = r[0], r[12]
        key = (r[9], r[13], r[14])
        status = statuses.get(key)
        if status is None:
            schedule = Schedule(
                is_24h=bool(r[9]), weekly=_weekly(r[13]), holidays=_holidays(r[14])
            )
            status = _STATUS_MEMO.remember(statuses, key, open_status(schedule, at))
        out.append(
            NearbyStation(
                id=pk,
                name=r[3],
                address=r[4],
                operator=r[6] if r[6] is not None else r[5],
                latitude=float(r[7]),
                longitude=float(r[8]),
                is_24h=bool(r[9]),
                star_level=r[10],
                phone=r[11],
                amenities=[c for i, c in enumerate(AMENITY_CODES) if mask >> i & 1],
                distance_km=float(r[1]),
                status=status,
            )
        )
    return out


_parse_time = time.fromisoformat
_STATUS_MEMO = SecondMemo()


@functools.lru_cache(maxsize=4096)
def _weekly(text: str | None) -> dict[int, tuple]:
    """ "0 08:00:00 22:00:00,1 ..." -> {0: ((08:00, 22:00),), ...}. Many stations
    keep the same hours, so the parse of a given text is remembered (the result
    is only read)."""
    weekly: dict[int, list] = {}
    if text:
        for part in text.split(","):
            day, opens, closes = part.split(" ")
            weekly.setdefault(int(day), []).append(
                (_parse_time(opens), _parse_time(closes))
            )
    return {day: tuple(spans) for day, spans in weekly.items()}


def _holidays(text: str | None) -> dict[date, list]:
    """ "2025-01-01 1 _ _,2025-01-02 0 10:00:00 14:00:00" -> {date: [] or [(o, c)]}"""
    holidays: dict[date, list] = {}
    if text:
        for part in text.split(","):
            day, closed, opens, closes = part.split(" ")
            holidays[date.fromisoformat(day)] = (
                [] if closed == "1" else [(_parse_time(opens), _parse_time(closes))]
            )
    return holidays


def station_nearby_queryset(
    *,
    lat: float,
    lng: float,
    radius_km: float = DEFAULT_RADIUS_KM,
    open_now: bool = False,
    amenities: Sequence[str] = (),
    is_24h: bool = False,
    open_first: bool = False,
    at: datetime | None = None,
) -> QuerySet[Station]:
    """The same search as an ORM queryset (annotated with distance_km, and
    is_open when asked), for callers that want model instances or any radius."""
    min_lat, max_lat, min_lng, max_lng = bounding_box(lat, lng, radius_km)
    qs = Station.objects.filter(
        latitude__gte=_outward(min_lat, ROUND_FLOOR),
        latitude__lte=_outward(max_lat, ROUND_CEILING),
        longitude__gte=_outward(min_lng, ROUND_FLOOR),
        longitude__lte=_outward(max_lng, ROUND_CEILING),
        is_active=True,
    )
    cells = lat_cells(min_lat, max_lat)
    if cells is not None:
        qs = qs.filter(lat_cell__in=sorted(set(cells)))
    for code in amenities:
        qs = qs.filter(**{amenity_field(Amenity(code).value): True})
    if is_24h:
        qs = qs.filter(is_24h=True)
    qs = qs.annotate(distance_km=distance_km_expression(lat=lat, lng=lng)).filter(
        distance_km__lte=radius_km
    )
    order = ["distance_km", "id"]
    if open_now or open_first:
        condition = open_now_condition(at=at or timezone.now())
        if open_now:
            qs = qs.filter(condition)
        if open_first:
            qs = qs.annotate(is_open=condition)
            order = ["-is_open", *order]
    return qs.order_by(*order)


def _outward(value: float, rounding: str) -> Decimal:
    return Decimal(repr(value)).quantize(_SIX, rounding=rounding)


def open_now_condition(*, at: datetime) -> RawSQL:
    """The open-now SQL (the same text the raw search uses) as an ORM boolean
    expression over the station table."""
    now = at.astimezone(SHANGHAI).replace(microsecond=0)
    today = now.date()
    yesterday = today - timedelta(days=1)
    ops = connection.ops
    values = {
        "today": ops.adapt_datefield_value(today),
        "yesterday": ops.adapt_datefield_value(yesterday),
        "wd": today.weekday(),
        "ywd": yesterday.weekday(),
        "t": ops.adapt_timefield_value(now.time()),
    }
    statement = _orm_open_now_statement()
    return RawSQL(  # noqa: S611 - fixed text, values are parameters
        statement.sql,
        [values[n] for n in statement.names],
        output_field=BooleanField(),
    )


@functools.lru_cache(maxsize=1)
def _orm_open_now_statement() -> _Statement:
    return _Statement.build(_open_now_sql(connection.ops.quote_name(_S)))


def schedule_of(station: Station) -> Schedule:
    """Build from prefetched `hours` and `holidays` (no queries if prefetched)."""
    weekly: dict[int, list] = defaultdict(list)
    for row in station.hours.all():
        weekly[row.weekday].append((row.opens, row.closes))
    holidays: dict = {}
    for hol in station.holidays.all():
        holidays[hol.date] = [] if hol.is_closed else [(hol.opens, hol.closes)]
    return Schedule(is_24h=station.is_24h, weekly=dict(weekly), holidays=holidays)


def schedules_for(
    *, station_ids: Sequence[int], is_24h: dict[int, bool], at: datetime
) -> dict[int, Schedule]:
    """Schedules of a few stations in one flat query (weekly hours UNION ALL the
    holidays from yesterday to next week). Holiday rows carry weekday -1; weekly
    rows carry no date."""
    today = at.astimezone(SHANGHAI).date()
    hours = (
        StationHours.objects.filter(station_id__in=station_ids)
        .annotate(day=Value(None, output_field=DateField()), closed=Value(False))
        .values_list("station_id", "weekday", "day", "closed", "opens", "closes")
        .order_by()
    )
    holidays = (
        StationHoliday.objects.filter(
            station_id__in=station_ids,
            date__gte=today - timedelta(days=1),
            date__lte=today + timedelta(days=8),
        )
        .annotate(wd=Value(-1, output_field=IntegerField()))
        .values_list("station_id", "wd", "date", "is_closed", "opens", "closes")
        .order_by()
    )
    weekly: dict[int, dict[int, list]] = {pk: defaultdict(list) for pk in station_ids}
    special: dict[int, dict] = {pk: {} for pk in station_ids}
    for pk, weekday, day, closed, opens, closes in hours.union(holidays, all=True):
        if weekday == -1:
            special[pk][day] = [] if closed else [(opens, closes)]
        else:
            weekly[pk][weekday].append((opens, closes))
    return {
        pk: Schedule(is_24h=is_24h[pk], weekly=dict(weekly[pk]), holidays=special[pk])
        for pk in station_ids
    }


def station_search(
    *,
    lat: float,
    lng: float,
    radius_km: float = DEFAULT_RADIUS_KM,
    open_now: bool = False,
    amenities: Sequence[str] = (),
    is_24h: bool = False,
    open_first: bool = False,
    limit: int = 20,
    at: datetime | None = None,
) -> list[StationHit]:
    """nearby_stations() with model instances (for the worker pages)."""
    rows = nearby_stations(
        lat=lat,
        lng=lng,
        radius_km=radius_km,
        open_now=open_now,
        amenities=amenities,
        is_24h=is_24h,
        open_first=open_first,
        limit=limit,
        at=at,
    )
    if not rows:
        return []
    by_id = Station.objects.select_related("org").in_bulk([r.id for r in rows])
    return [
        StationHit(station=by_id[r.id], distance_km=r.distance_km, status=r.status)
        for r in rows
        if r.id in by_id
    ]


def station_get_public(*, station_id: int) -> Station | None:
    """An active station with everything the detail page shows."""
    today = timezone.localdate()
    return (
        Station.objects.filter(pk=station_id, is_active=True)
        .select_related("org")
        .prefetch_related(
            "hours",
            "photos",
            Prefetch(
                "holidays",
                queryset=StationHoliday.objects.filter(
                    date__gte=today - timedelta(days=1)
                ),
            ),
        )
        .first()
    )


def station_list_for_admin(qs: QuerySet[Station]) -> QuerySet[Station]:
    """Annotate the admin's list with the count of unresolved problem reports."""
    return qs.annotate(
        open_reports=Count(
            "problem_reports",
            filter=Q(problem_reports__status=ProblemStatus.OPEN),
        )
    )


def stations_needing_review(qs: QuerySet[Station]) -> QuerySet[Station]:
    """BR-S3: verification older than 12 months (or never), or unresolved reports."""
    cutoff = timezone.localdate() - timedelta(days=365)
    unresolved = Exists(
        ProblemReport.objects.filter(station=OuterRef("pk"), status=ProblemStatus.OPEN)
    )
    return qs.filter(
        Q(last_verified_at__isnull=True) | Q(last_verified_at__lt=cutoff) | unresolved
    )
