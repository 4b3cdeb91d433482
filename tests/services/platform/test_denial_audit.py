"""Every authorisation denial of the platform API leaves an audit row (security.md
LG1 "authorisation denials"; docs/api.md "Audit"): bad, revoked, expired or
missing credentials (401), another platform's batch (404), and an address
outside the allow-list (403, tested in test_ip_allowlist.py)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from members.actions.api_keys import platform_key_revoke
from members.models import AuditLog, Platform, PlatformApiKey
from services.models import EnrollmentBatch
from tests.services.platform.builders import csv_bytes, rider_row

pytestmark = pytest.mark.django_db

RIDER_URL = "/api/v1/riders/NOPE/"
BATCH_URL = "/api/v1/enrollment-batches/{}/"


def refused():
    return AuditLog.objects.filter(action="platform_auth_refused")


def test_unknown_key_is_audited_without_the_key(client):
    secret = "s3cr3t-" * 6
    response = client.get(RIDER_URL, HTTP_AUTHORIZATION=f"Bearer 0123456789ab.{secret}")

    assert response.status_code == 401
    [row] = refused()
    assert (row.outcome, row.reason, row.actor_role) == (
        "denied",
        "unknown_key",
        "anonymous",
    )
    assert (row.object_type, row.object_id) == ("", "")
    assert row.ip == "127.0.0.1"
    assert row.detail["endpoint"] == "services-api:rider-detail"
    assert row.detail["status"] == 401
    assert secret not in str(row.detail) and "0123456789ab" not in str(row.detail)


def test_wrong_secret_for_a_real_prefix_names_the_key(client, alpha_key):
    key = alpha_key.key

    response = client.get(
        RIDER_URL, HTTP_AUTHORIZATION=f"Bearer {key.prefix}.{'x' * 43}"
    )

    assert response.status_code == 401
    [row] = refused()
    assert (row.reason, row.object_type, row.object_id) == (
        "secret_mismatch",
        "platform_api_key",
        str(key.pk),
    )
    assert (row.detail["platform_id"], row.detail["prefix"]) == (
        key.platform_id,
        key.prefix,
    )
    assert row.actor_role == "platform"


def test_revoked_key_is_audited(alpha, alpha_key):
    platform_key_revoke(key=alpha_key.key)

    assert alpha.get(RIDER_URL).status_code == 401

    [row] = refused()
    assert (row.reason, row.object_id) == ("revoked", str(alpha_key.key.pk))


def test_expired_key_is_audited(alpha, alpha_key):
    PlatformApiKey.objects.filter(pk=alpha_key.key.pk).update(
        created_at=timezone.now() - timedelta(days=2),
        expires_at=timezone.now() - timedelta(seconds=1),
    )

    assert alpha.get(RIDER_URL).status_code == 401

    [row] = refused()
    assert row.reason == "expired"


def test_key_of_a_deactivated_platform_is_audited(alpha, alpha_key):
    Platform.objects.filter(pk=alpha_key.key.platform_id).update(is_active=False)

    assert alpha.get(RIDER_URL).status_code == 401

    [row] = refused()
    assert row.reason == "platform_inactive"


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({}, "missing"),
        ({"HTTP_AUTHORIZATION": "Token abc"}, "missing"),
        ({"HTTP_AUTHORIZATION": "Bearer"}, "malformed"),
        ({"HTTP_AUTHORIZATION": "Bearer a b"}, "malformed"),
        ({"HTTP_AUTHORIZATION": "Bearer nonsense"}, "malformed"),
    ],
)
def test_missing_or_malformed_credentials_are_audited(client, extra, reason):
    assert client.get(RIDER_URL, **extra).status_code == 401

    [row] = refused()
    assert row.reason == reason


def test_key_in_the_query_string_is_audited_without_the_key(client, alpha_key):
    response = client.get(f"{RIDER_URL}?api_key={alpha_key.plaintext}")

    assert response.status_code == 401
    [row] = refused()
    assert row.reason == "key_in_query"
    assert alpha_key.plaintext.split(".")[1] not in str(row.detail)


def test_a_flood_of_bad_keys_adds_one_row_per_source_reason_and_minute(client):
    bad = {"HTTP_AUTHORIZATION": f"Bearer 0123456789ab.{'y' * 30}"}

    for _ in range(20):
        assert client.get(RIDER_URL, **bad).status_code == 401
    assert client.get(RIDER_URL).status_code == 401  # another reason

    # one row per (IP, reason, key, endpoint, method, minute); two if the calls
    # straddle a minute boundary
    assert 1 <= refused().filter(reason="unknown_key").count() <= 2
    assert refused().filter(reason="missing").count() == 1


def test_valid_key_leaves_no_refusal(alpha, program):
    assert alpha.get(RIDER_URL).status_code == 404
    assert not refused().exists()


def _alpha_batch(alpha, django_capture_on_commit_callbacks) -> int:
    with django_capture_on_commit_callbacks(execute=True):
        response = alpha.post(
            "/api/v1/enrollment-batches/",
            {"program": "e-road", "file": io.BytesIO(csv_bytes([rider_row()]))},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="alpha-1",
        )
    assert response.status_code == 202
    return response.json()["id"]


@pytest.mark.parametrize("suffix", ["", "errors/"])
def test_another_platforms_batch_is_a_plain_404_and_an_audited_denial(
    alpha, beta, program, django_capture_on_commit_callbacks, suffix
):
    # given: alpha's batch, and an id no batch has
    batch_id = _alpha_batch(alpha, django_capture_on_commit_callbacks)
    missing_id = batch_id + 1000

    # when: beta asks for both
    theirs = beta.get(BATCH_URL.format(batch_id) + suffix)
    nobodys = beta.get(BATCH_URL.format(missing_id) + suffix)

    # then: the same answer for both ...
    assert theirs.status_code == nobodys.status_code == 404
    assert theirs.json() == nobodys.json()
    # ... and one denial in the union's audit log, for alpha's batch only
    [row] = AuditLog.objects.filter(action="platform_access_denied")
    assert (row.outcome, row.reason, row.actor_role) == (
        "denied",
        "other_platform",
        "platform",
    )
    assert (row.object_type, row.object_id) == ("enrollment_batch", str(batch_id))
    assert row.detail["platform_id"] == beta.platform.pk
    assert row.detail["owner_platform_id"] == alpha.platform.pk
    assert row.detail["status"] == 404
    # alpha still reads its own batch; nothing else was denied
    assert alpha.get(BATCH_URL.format(batch_id) + suffix).status_code == 200
    assert AuditLog.objects.filter(action="platform_access_denied").count() == 1
    assert EnrollmentBatch.objects.count() == 1
