"""Builders for rest-station tests."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from services.actions.stations import station_set_hours
from services.models import Station

NANSHAN = (22.5333, 113.9305)  # near the Nanshan district government


def make_station(
    *,
    name: str = "测试驿站",
    lat: float = NANSHAN[0],
    lng: float = NANSHAN[1],
    hours: dict[int, list[tuple[time, time]]] | None = None,
    county_code: str = "440305",
    **extra,
) -> Station:
    station = Station(
        name=name,
        address=extra.pop("address", "深圳市南山区测试路 1 号"),
        county_code=county_code,
        latitude=Decimal(f"{lat:.6f}"),
        longitude=Decimal(f"{lng:.6f}"),
        operator_name=extra.pop("operator_name", "南山区总工会"),
        **extra,
    )
    station.full_clean()
    station.save()
    if hours:
        station_set_hours(station=station, weekly=hours)
    return station


def every_day(opens: time, closes: time) -> dict[int, list[tuple[time, time]]]:
    return {d: [(opens, closes)] for d in range(7)}
