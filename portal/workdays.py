"""Working days: Monday to Friday, minus configured public holidays, plus
configured make-up working days (调休). China announces the holiday calendar each
year, so both lists are settings (PORTAL_HOLIDAYS, PORTAL_EXTRA_WORKDAYS: ISO
dates), not code."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings


def _dates(name: str) -> frozenset[date]:
    return frozenset(date.fromisoformat(d) for d in getattr(settings, name, ()))


def is_workday(day: date) -> bool:
    if day in _dates("PORTAL_EXTRA_WORKDAYS"):
        return True
    if day in _dates("PORTAL_HOLIDAYS"):
        return False
    return day.weekday() < 5


def add_workdays(day: date, count: int) -> date:
    """The date `count` working days after `day` (before it when negative)."""
    step = 1 if count >= 0 else -1
    remaining = abs(count)
    holidays = _dates("PORTAL_HOLIDAYS")
    extra = _dates("PORTAL_EXTRA_WORKDAYS")
    current = day
    while remaining:
        current += timedelta(days=step)
        if current in extra or (current not in holidays and current.weekday() < 5):
            remaining -= 1
    return current


def workdays_between(start: date, end: date) -> int:
    """Working days in (start, end]: how many working days have passed."""
    if end <= start:
        return 0
    return sum(
        1 for n in range(1, (end - start).days + 1) if is_workday(start + timedelta(n))
    )
