"""Demo data for member services (called by `manage.py seed_demo`)."""

from __future__ import annotations


def seed(*, stdout) -> list:
    seed_stations(stdout=stdout)
    return []


def seed_stations(*, stdout) -> None:
    from services.demo_stations import seed_stations as load

    count = load()
    stdout.write(f"  {count} 个深圳工会驿站 (/services/stations/)")
