import io

from django.db.models import F

from members import demo as members_demo
from members.models import User
from services import demo as services_demo
from services.actions.stations import problem_report_submit
from services.demo_stations import STATIONS, seed_stations
from services.models import Station, StationHours
from tests.factories import login_staff


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


def test_demo_district_reviewer_sees_and_resolves_own_station_reports(db, client):
    # given: the whole demo (members first, as seed_demo runs it) and a report on
    # a Nanshan station and one on a Futian station
    members_demo.seed(stdout=io.StringIO())
    services_demo.seed(stdout=io.StringIO())
    nanshan = problem_report_submit(
        station=Station.objects.filter(county_code="440305").first(),
        kind="supplies_missing",
    )
    futian = problem_report_submit(
        station=Station.objects.filter(county_code="440304").first(),
        kind="closed_when_open",
    )
    reviewer = User.objects.get(username="reviewer_440305")
    login_staff(client, reviewer)
    url = "/admin/services/problemreport/"

    # when
    listing = client.get(url)
    client.post(url, {"action": "resolve", "_selected_action": [nanshan.pk, futian.pk]})
    station_page = client.get(f"/admin/services/station/{nanshan.station_id}/change/")

    # then: only the own subtree's report is listed and resolved
    assert listing.status_code == 200
    assert list(listing.context["cl"].queryset) == [nanshan]
    nanshan.refresh_from_db()
    futian.refresh_from_db()
    assert (nanshan.status, nanshan.resolved_by) == ("resolved", reviewer)
    assert futian.status == "open"
    assert station_page.status_code == 200
    assert not reviewer.has_perm("services.change_station")
