"""Admin for stations and problem reports: org scoping, review flags, CSV."""

from datetime import time, timedelta

import pytest
import tablib
from django.utils import timezone

from members.models import AuditLog
from services.actions.stations import problem_report_submit
from services.models import ProblemReport, Station, StationHours
from services.resources import StationResource
from tests.factories import login_staff, make_staff
from tests.services.stations_factories import make_station

pytestmark = pytest.mark.django_db

REPORT_PERMS = ("services.view_problemreport", "services.change_problemreport")
STATION_PERMS = (
    "services.view_station",
    "services.add_station",
    "services.change_station",
)


@pytest.fixture
def nanshan_report(nanshan):
    station = make_station(name="南山驿站", org=nanshan)
    return problem_report_submit(
        station=station, kind="supplies_missing", text="没有热水", contact="13812345678"
    )


@pytest.fixture
def futian_report(futian):
    station = make_station(name="福田驿站", org=futian, county_code="440304")
    return problem_report_submit(station=station, kind="closed_when_open")


def test_reports_reach_only_the_operating_union_subtree(
    client, nanshan, futian, shenzhen, nanshan_report, futian_report
):
    # given staff at Nanshan, at Futian and at the city federation
    nanshan_staff = make_staff(org=nanshan, username="ns", perms=REPORT_PERMS)
    futian_staff = make_staff(org=futian, username="ft", perms=REPORT_PERMS)
    city_staff = make_staff(org=shenzhen, username="sz", perms=REPORT_PERMS)
    url = "/admin/services/problemreport/"

    # when / then: each district sees its own; the city sees both
    login_staff(client, nanshan_staff)
    listing = client.get(url)
    assert list(listing.context["cl"].queryset) == [nanshan_report]
    assert "138****5678" in listing.content.decode()
    assert "13812345678" not in listing.content.decode()
    assert client.get(f"{url}{futian_report.pk}/change/").status_code == 302

    login_staff(client, futian_staff)
    assert list(client.get(url).context["cl"].queryset) == [futian_report]
    assert client.get(f"{url}{nanshan_report.pk}/change/").status_code == 302

    login_staff(client, city_staff)
    assert set(client.get(url).context["cl"].queryset) == {
        nanshan_report,
        futian_report,
    }


def test_resolve_action_resolves_once_and_audits(client, nanshan, nanshan_report):
    staff = make_staff(org=nanshan, username="ns", perms=REPORT_PERMS)
    login_staff(client, staff)

    response = client.post(
        "/admin/services/problemreport/",
        {"action": "resolve", "_selected_action": [nanshan_report.pk]},
    )

    assert response.status_code == 302
    nanshan_report.refresh_from_db()
    assert nanshan_report.status == "resolved"
    assert nanshan_report.resolved_by == staff
    assert AuditLog.objects.filter(action="station.problem_resolve").count() == 1


def test_resolve_action_cannot_touch_another_unions_report(
    client, nanshan, futian_report
):
    staff = make_staff(org=nanshan, username="ns", perms=REPORT_PERMS)
    login_staff(client, staff)

    client.post(
        "/admin/services/problemreport/",
        {"action": "resolve", "_selected_action": [futian_report.pk]},
    )

    futian_report.refresh_from_db()
    assert futian_report.status == "open"


def test_needs_review_filter_flags_stale_and_complained_stations(
    client, nanshan, nanshan_report
):
    today = timezone.localdate()
    fresh = make_station(name="新核实", org=nanshan, last_verified_at=today)
    stale = make_station(
        name="过期", org=nanshan, last_verified_at=today - timedelta(days=400)
    )
    never = make_station(name="从未核实", org=nanshan)
    complained = nanshan_report.station
    complained.last_verified_at = today
    complained.save()
    staff = make_staff(org=nanshan, username="ns", perms=STATION_PERMS)
    login_staff(client, staff)

    flagged = client.get("/admin/services/station/?needs_review=yes")
    fine = client.get("/admin/services/station/?needs_review=no")

    assert set(flagged.context["cl"].queryset) == {stale, never, complained}
    assert set(fine.context["cl"].queryset) == {fresh}


def test_amenity_and_county_filters(client, nanshan, futian):
    aed = make_station(name="AED", org=nanshan, has_aed=True)
    make_station(name="plain", org=nanshan)
    futian_station = make_station(org=futian, county_code="440304")
    staff = make_staff(org=nanshan.parent, username="city", perms=STATION_PERMS)
    login_staff(client, staff)

    by_amenity = client.get("/admin/services/station/?amenity=aed")
    by_county = client.get("/admin/services/station/?county_code=440304")

    assert list(by_amenity.context["cl"].queryset) == [aed]
    assert list(by_county.context["cl"].queryset) == [futian_station]


def test_csv_export_escapes_formulas_and_writes_hours_and_amenities():
    station = make_station(
        name='=HYPERLINK("http://evil.example")',
        has_water=True,
        has_aed=True,
        hours={4: [(time(22), time(2))]},
    )

    dataset = StationResource().export(queryset=Station.objects.filter(pk=station.pk))

    row = dict(zip(dataset.headers, dataset[0], strict=True))
    assert row["name"] == '\'=HYPERLINK("http://evil.example")'
    assert row["hours"] == "fri 22:00-02:00"
    assert row["amenities"] == "water,aed"


def _dataset(*rows: dict) -> tablib.Dataset:
    headers = [
        "id",
        "name",
        "org_id",
        "address",
        "county_code",
        "latitude",
        "longitude",
        "is_24h",
        "hours",
        "amenities",
        "star_level",
    ]
    data = tablib.Dataset(headers=headers)
    for row in rows:
        data.append([row.get(h, "") for h in headers])
    return data


GOOD = {
    "name": "新驿站",
    "address": "深圳市南山区科技园 1 号",
    "county_code": "440305",
    "latitude": "22.540000",
    "longitude": "113.950000",
    "is_24h": "0",
    "hours": "mon-fri 08:00-20:00; sat 22:00-02:00",
    "amenities": "water,microwave",
    "star_level": "3",
}


def test_csv_import_creates_stations_with_hours_and_amenities():
    result = StationResource().import_data(_dataset(GOOD), dry_run=False)

    assert not result.has_errors() and not result.has_validation_errors()
    station = Station.objects.get(name="新驿站")
    assert (station.has_water, station.has_microwave, station.has_aed) == (
        True,
        True,
        False,
    )
    assert StationHours.objects.filter(station=station).count() == 6
    assert station.hours.get(weekday=5).closes == time(2)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"latitude": "95"}, "latitude"),
        ({"hours": "mon 8-20"}, "hours"),
        ({"amenities": "water,jacuzzi"}, "amenities"),
        ({"star_level": "6"}, "star_level"),
        ({"county_code": "44A305"}, "county_code"),
    ],
)
def test_csv_import_reports_row_errors_and_saves_nothing(override, field):
    bad = {**GOOD, "name": "坏行", **override}

    result = StationResource().import_data(_dataset(GOOD, bad), dry_run=False)

    assert result.has_validation_errors()
    invalid = result.invalid_rows
    assert [r.number for r in invalid] == [2]
    assert field in invalid[0].field_specific_errors or field in str(
        invalid[0].error_dict
    )
    assert Station.objects.filter(name="坏行").count() == 0


def test_csv_import_by_district_staff_cannot_target_another_union(nanshan, futian):
    staff = make_staff(org=nanshan, username="ns", perms=STATION_PERMS)

    result = StationResource(user=staff).import_data(
        _dataset({**GOOD, "org_id": str(futian.pk)}), dry_run=False
    )

    assert result.has_validation_errors()
    assert Station.objects.count() == 0


def test_admin_import_preview_shows_row_errors(client, nanshan):
    staff = make_staff(org=nanshan, username="ns", perms=STATION_PERMS)
    login_staff(client, staff)
    csv = _dataset({**GOOD, "org_id": str(nanshan.pk), "hours": "mon 8-20"}).csv
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/admin/services/station/import/",
        {
            "import_file": SimpleUploadedFile("s.csv", csv.encode(), "text/csv"),
            "format": "0",
            "resource": "0",
        },
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "无法识别" in body
    assert Station.objects.count() == 0


def test_admin_photo_upload_is_reencoded_before_storage():
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from services.admin.stations import StationPhotoForm
    from services.models import StationPhoto

    station = make_station()
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    raw = io.BytesIO()
    Image.new("RGB", (20, 20), "blue").save(raw, format="JPEG", exif=exif)
    form = StationPhotoForm(
        data={"caption": "门口", "position": "0"},
        files={"image": SimpleUploadedFile("me.jpg", raw.getvalue(), "image/jpeg")},
        instance=StationPhoto(station=station),
    )

    assert form.is_valid(), form.errors
    photo = form.save()
    stored = photo.image.read()
    assert b"SecretCam" not in stored
    assert photo.image.name == f"stations/photos/{photo.uuid}.jpg"

    bad = StationPhotoForm(
        data={"caption": "", "position": "0"},
        files={"image": SimpleUploadedFile("x.jpg", b"<svg onload=alert(1)>")},
        instance=StationPhoto(station=station),
    )
    assert not bad.is_valid()
    assert "image" in bad.errors


def test_numbers_in_report_text_are_masked_when_stored_and_in_the_admin(
    client, nanshan
):
    station = make_station(name="南山驿站", org=nanshan)
    report = problem_report_submit(
        station=station, kind="other", text="没水了，回电13812345678"
    )
    assert report.text == "没水了，回电138****5678"
    # a report written before masking on submit is masked on the page too
    legacy = problem_report_submit(station=station, kind="other", text="x")
    ProblemReport.objects.filter(pk=legacy.pk).update(text="卡6222021234567890128")
    staff = make_staff(org=nanshan, username="ns", perms=REPORT_PERMS)
    login_staff(client, staff)

    page = client.get(f"/admin/services/problemreport/{legacy.pk}/change/")

    assert page.status_code == 200
    assert "6222021234567890128" not in page.content.decode()
    assert "622202*********0128" in page.content.decode()
