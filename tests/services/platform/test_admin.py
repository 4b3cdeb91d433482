"""Staff view of batches: scoped, read-only, live progress, error file."""

from __future__ import annotations

import io

import pytest

from services.models import EnrollmentBatch
from tests.factories import login_staff
from tests.services.platform.builders import csv_bytes, rider_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished_batch(alpha, program, django_capture_on_commit_callbacks):
    body = csv_bytes(
        [rider_row(rider_id="S1", phone="13800002222"), rider_row(phone="12")]
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = alpha.post(
            "/api/v1/enrollment-batches/",
            {"file": io.BytesIO(body), "program": "e-road"},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="adm",
        )
    return EnrollmentBatch.objects.get(pk=response.json()["id"])


def test_city_staff_sees_progress_counts_and_errors(
    client, city_reviewer, finished_batch
):
    city_reviewer.is_superuser = False
    login_staff(client, city_reviewer)
    base = f"/admin/services/enrollmentbatch/{finished_batch.pk}"
    from django.contrib.auth.models import Permission

    city_reviewer.user_permissions.add(
        Permission.objects.get(codename="view_enrollmentbatch")
    )
    page = client.get(f"{base}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'hx-trigger="every 2s"' not in html  # already done: no polling
    assert "新参保 1,已参保 0,拒绝 1" in html
    progress = client.get(f"{base}/progress/")
    assert progress.status_code == 286
    errors = client.get(f"{base}/errors.csv")
    assert errors.status_code == 200
    text = b"".join(errors.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[1].startswith("2,phone,invalid_phone,")


def test_running_batch_polls_every_two_seconds(client, city_reviewer, finished_batch):
    EnrollmentBatch.objects.filter(pk=finished_batch.pk).update(status="processing")
    from django.contrib.auth.models import Permission

    city_reviewer.user_permissions.add(
        Permission.objects.get(codename="view_enrollmentbatch")
    )
    login_staff(client, city_reviewer)
    response = client.get(
        f"/admin/services/enrollmentbatch/{finished_batch.pk}/progress/"
    )
    assert response.status_code == 200
    assert 'hx-trigger="every 2s"' in response.content.decode()


def test_district_staff_cannot_see_batches(client, reviewer_nanshan, finished_batch):
    from django.contrib.auth.models import Permission

    reviewer_nanshan.user_permissions.add(
        Permission.objects.get(codename="view_enrollmentbatch")
    )
    login_staff(client, reviewer_nanshan)
    base = f"/admin/services/enrollmentbatch/{finished_batch.pk}"
    assert client.get(f"{base}/progress/").status_code == 404
    assert client.get(f"{base}/errors.csv").status_code == 404
    assert client.get(f"{base}/change/").status_code in (302, 404)
    listing = client.get("/admin/services/enrollmentbatch/")
    assert listing.status_code == 200
    assert (
        f"/enrollmentbatch/{finished_batch.pk}/change/" not in listing.content.decode()
    )
