from django.db.models import F

from services.demo_stations import STATIONS, seed_stations
from services.models import Station, StationHours


def test_seed_stations_is_idempotent_and_covers_every_district(db):
    first = seed_stations()
    hours_after_first = StationHours.objects.count()
    second = seed_stations()

    assert first == second == len(STATIONS) == Station.objects.count()
    assert StationHours.objects.count() == hours_after_first
    counties = set(Station.objects.values_list("county_code", flat=True))
    assert counties == {f"4403{n:02d}" for n in range(3, 12)}
    assert Station.objects.filter(is_24h=True).exists()
    assert StationHours.objects.filter(closes__lt=F("opens")).exists()
