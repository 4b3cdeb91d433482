"""Platform API key use is audited (security.md LG1, docs/api.md "Audit"):
per-minute usage buckets with one audit row per bucket, one audit row per write
request and per read of a rider's (personal) data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from members.actions.api_keys import platform_key_use_record
from members.models import AuditLog, PlatformApiUsage, PlatformRider
from tests.factories import make_member
from tests.test_pii_leak_scan import leaks

pytestmark = pytest.mark.django_db

RIDER_URL = "/api/v1/riders/{}/"
BATCH_URL = "/api/v1/enrollment-batches/"


def rider_of(platform, rider_id="A1"):
    member = make_member(phone="13800000001")
    return PlatformRider.objects.create(
        platform=platform, member=member, platform_rider_id=rider_id
    )


def test_each_rider_read_names_the_member_and_reads_share_a_bucket(alpha, program):
    rider = rider_of(alpha.platform)

    for _ in range(3):
        assert alpha.get(RIDER_URL.format("A1")).status_code == 200

    reads = AuditLog.objects.filter(action="platform_rider_read")
    assert reads.count() == 3
    assert {r.member_id for r in reads} == {rider.member_id}
    assert {(r.object_type, r.object_id) for r in reads} == {
        ("platform_rider", str(rider.pk))
    }
    assert {r.actor_role for r in reads} == {"platform"}
    assert reads[0].detail["platform_id"] == alpha.platform.pk
    # one bucket (two if the calls straddle a minute boundary)
    total = sum(
        PlatformApiUsage.objects.filter(
            endpoint="services-api:rider-detail"
        ).values_list("requests", flat=True)
    )
    assert total == 3
    opened = AuditLog.objects.filter(action="platform_key_use")
    assert opened.count() == PlatformApiUsage.objects.count()


def test_unknown_rider_counts_as_error_and_names_nobody(alpha, program):
    assert alpha.get(RIDER_URL.format("NOPE")).status_code == 404

    assert not AuditLog.objects.filter(action="platform_rider_read").exists()
    [bucket] = PlatformApiUsage.objects.all()
    assert (bucket.requests, bucket.errors) == (1, 1)
    [opened] = AuditLog.objects.filter(action="platform_key_use")
    assert opened.outcome == "failure" and opened.detail["status"] == 404


def test_rejected_write_gets_its_own_audit_row(alpha, program):
    response = alpha.post(BATCH_URL, {"program": "e-road"}, format="multipart")

    assert response.status_code == 400  # no Idempotency-Key
    [write] = AuditLog.objects.filter(action="platform_api_write")
    assert write.outcome == "failure"
    assert write.detail["status"] == 400
    assert write.detail["method"] == "POST"
    assert write.detail["endpoint"] == "services-api:enrollment-batch-create"


def test_one_bucket_row_and_one_audit_row_per_key_endpoint_minute(alpha_key):
    key = alpha_key.key
    t = datetime(2026, 11, 23, 8, 0, 5, tzinfo=UTC)

    for second in range(0, 50, 5):  # ten polls within one minute
        platform_key_use_record(
            key=key,
            endpoint="services-api:enrollment-batch-detail",
            method="GET",
            status_code=200,
            now=t + timedelta(seconds=second),
        )
    platform_key_use_record(
        key=key,
        endpoint="services-api:enrollment-batch-detail",
        method="GET",
        status_code=200,
        now=t + timedelta(minutes=1),
    )

    buckets = list(
        PlatformApiUsage.objects.order_by("minute").values_list("minute", "requests")
    )
    assert buckets == [
        (datetime(2026, 11, 23, 8, 0, tzinfo=UTC), 10),
        (datetime(2026, 11, 23, 8, 1, tzinfo=UTC), 1),
    ]
    opened = AuditLog.objects.filter(action="platform_key_use")
    assert opened.count() == 2
    assert not AuditLog.objects.filter(action="platform_api_write").exists()


def test_usage_audit_rows_hold_no_raw_personal_data(alpha, program):
    rider_of(alpha.platform)
    alpha.get(RIDER_URL.format("A1"))

    text = " ".join(
        f"{a.object_id} {a.reason} {a.detail}" for a in AuditLog.objects.all()
    )
    assert leaks(text) == []  # no phone or ID number
    assert "A1" not in text  # not even the platform's rider id


def test_failed_authentication_records_no_usage(client, program):
    response = client.get(
        RIDER_URL.format("A1"), headers={"authorization": "Bearer nope"}
    )

    assert response.status_code == 401
    assert not PlatformApiUsage.objects.exists()


def test_usage_admin_lists_buckets_read_only(client, alpha, program):
    from tests.factories import login_staff, make_user

    alpha.get(RIDER_URL.format("NOPE"))
    admin_user = make_user(is_staff=True, is_superuser=True)
    login_staff(client, admin_user)

    listing = client.get("/admin/members/platformapiusage/")
    add = client.get("/admin/members/platformapiusage/add/")

    assert listing.status_code == 200
    assert "services-api:rider-detail" in listing.content.decode()
    assert add.status_code == 403


def test_key_prefixes_never_read_as_a_phone_number(monkeypatch):
    """A random hex prefix of 11 digits would be masked in logs as a mobile
    number: such draws are thrown away."""
    from members.actions import api_keys

    draws = iter(["13812345678a", "0187310121a5"])
    monkeypatch.setattr(api_keys.secrets, "token_hex", lambda n: next(draws))

    assert api_keys.new_key_prefix() == "0187310121a5"
