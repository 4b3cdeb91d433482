"""Reads for rest stations: nearest search, detail, and the admin's review flags.

Nearest search (stack.md "Nearest rest station"): a bounding-box range on the
indexed (latitude, longitude) columns, then the exact haversine distance in SQL,
filtered to the radius and ordered by it. The same ORM expression runs on SQLite
(Django registers SIN/COS/ASIN/... there) and on PostgreSQL; PostGIS is not needed.

"Open now" as a filter and as the open-first ordering is also SQL: correlated
EXISTS over the station's hours and holiday rows, evaluated only for rows that
survived the bounding box. The list's label ("至 22:00", "明天 08:00 开门") is then
computed in Python by services.opening_hours for the at most `limit` returned
rows, from one UNION ALL read of their hours and holidays; tests check the
SQL and Python rules agree.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.db.models import (
    BooleanField,
    Count,
    DateField,
    Exists,
    ExpressionWrapper,
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
from django.utils import timezone

from services.geo import EARTH_RADIUS_KM, bounding_box
from services.models import (
    Amenity,
    ProblemReport,
    ProblemStatus,
    Station,
    StationHoliday,
    StationHours,
    amenity_field,
)
from services.opening_hours import SHANGHAI, OpenStatus, Schedule, open_status

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


def open_now_condition(*, at: datetime) -> Q:
    """SQL for "open at `at`" (Asia/Shanghai); see services/opening_hours.py."""
    now = at.astimezone(SHANGHAI).replace(microsecond=0)
    today, t = now.date(), now.time()
    yesterday = today - timedelta(days=1)
    wd, ywd = today.weekday(), yesterday.weekday()
    hours = StationHours.objects.filter(station=OuterRef("pk"))
    holidays = StationHoliday.objects.filter(station=OuterRef("pk"))
    covers_t = Q(opens__lte=t) & (Q(closes__gt=t) | Q(closes__lte=F("opens")))
    spills_past_t = Q(closes__lte=F("opens"), closes__gt=t)

    today_regular = Q(is_24h=True) | Exists(hours.filter(covers_t, weekday=wd))
    today_holiday = Exists(holidays.filter(date=today))
    today_holiday_open = Exists(holidays.filter(covers_t, date=today, is_closed=False))
    y_regular = Q(is_24h=False) & Exists(hours.filter(spills_past_t, weekday=ywd))
    y_holiday = Exists(holidays.filter(date=yesterday))
    y_holiday_open = Exists(
        holidays.filter(spills_past_t, date=yesterday, is_closed=False)
    )
    return (
        (~today_holiday & today_regular)
        | today_holiday_open
        | (~y_holiday & y_regular)
        | y_holiday_open
    )


def _outward(value: float, rounding: str) -> Decimal:
    return Decimal(repr(value)).quantize(_SIX, rounding=rounding)


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
    """Active stations within radius_km, annotated with distance_km (and is_open
    when asked), ordered by distance (open ones first if open_first)."""
    min_lat, max_lat, min_lng, max_lng = bounding_box(lat, lng, radius_km)
    qs = Station.objects.filter(
        latitude__gte=_outward(min_lat, ROUND_FLOOR),
        latitude__lte=_outward(max_lat, ROUND_CEILING),
        longitude__gte=_outward(min_lng, ROUND_FLOOR),
        longitude__lte=_outward(max_lng, ROUND_CEILING),
        is_active=True,
    )
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
            qs = qs.annotate(
                is_open=ExpressionWrapper(condition, output_field=BooleanField())
            )
            order = ["-is_open", *order]
    return qs.order_by(*order)


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
    holidays from yesterday to next week): cheaper than prefetch_related on the
    hot path. Holiday rows carry weekday -1; weekly rows carry no date."""
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
    """The nearest stations with distance and open status (at most MAX_LIMIT)."""
    at = at or timezone.now()
    qs = station_nearby_queryset(
        lat=lat,
        lng=lng,
        radius_km=min(radius_km, MAX_RADIUS_KM),
        open_now=open_now,
        amenities=amenities,
        is_24h=is_24h,
        open_first=open_first,
        at=at,
    )
    rows = list(qs.select_related("org")[: max(1, min(limit, MAX_LIMIT))])
    if not rows:
        return []
    schedules = schedules_for(
        station_ids=[s.pk for s in rows], is_24h={s.pk: s.is_24h for s in rows}, at=at
    )
    return [
        StationHit(
            station=s,
            distance_km=float(s.distance_km),
            status=open_status(schedules[s.pk], at),
        )
        for s in rows
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
