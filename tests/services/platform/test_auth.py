"""Platform API keys: hashed at rest, bearer only, revocation, expiry, throttles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from members.actions.api_keys import platform_key_issue, platform_key_revoke
from members.models import AuditLog, Platform, PlatformApiKey

pytestmark = pytest.mark.django_db

RIDER_URL = "/api/v1/riders/NOPE/"


def test_command_creates_platform_and_prints_key_once(capsys):
    call_command("issue_platform_key", "gamma", "--name", "生产")
    out = capsys.readouterr().out.strip().splitlines()
    key = out[-1]
    prefix, secret = key.split(".")
    stored = PlatformApiKey.objects.get(prefix=prefix)
    assert stored.platform == Platform.objects.get(code="gamma")
    assert stored.name == "生产"
    assert secret not in stored.hashed_secret
    assert stored.expires_at <= timezone.now() + timedelta(days=365)
    assert AuditLog.objects.filter(action="platform_key_issue").count() == 1


def test_database_holds_no_usable_key(alpha_key):
    secret = alpha_key.plaintext.split(".")[1]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM members_platformapikey")
        dumped = repr(cursor.fetchall())
    assert secret not in dumped
    assert alpha_key.plaintext not in dumped


def test_valid_key_authenticates(alpha, program):
    assert alpha.get(RIDER_URL).status_code == 404  # authenticated, rider unknown


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer nonsense",
        "Bearer 0123456789ab.wrong-secret-wrong-secret-wrong",
        "Token abc",
    ],
)
def test_bad_credentials_get_401(client, alpha_key, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get(RIDER_URL, **extra)
    assert response.status_code in (401, 403)
    if header.startswith("Bearer"):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_wrong_secret_with_real_prefix_gets_401(client, alpha_key):
    prefix = alpha_key.key.prefix
    response = client.get(RIDER_URL, HTTP_AUTHORIZATION=f"Bearer {prefix}.{'x' * 43}")
    assert response.status_code == 401


def test_key_in_query_string_is_refused(client, alpha, alpha_key):
    assert client.get(f"{RIDER_URL}?api_key={alpha_key.plaintext}").status_code == 401
    # even together with a valid header
    assert alpha.get(f"{RIDER_URL}?x={alpha_key.plaintext}").status_code == 401


def test_revoked_key_gets_401_at_once(alpha, alpha_key):
    assert alpha.get(RIDER_URL).status_code == 404
    assert platform_key_revoke(key=alpha_key.key) is True
    assert alpha.get(RIDER_URL).status_code == 401
    assert platform_key_revoke(key=alpha_key.key) is False
    assert AuditLog.objects.filter(action="platform_key_revoke").count() == 1


def test_expired_key_gets_401(alpha, alpha_key):
    PlatformApiKey.objects.filter(pk=alpha_key.key.pk).update(
        created_at=timezone.now() - timedelta(days=2),
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert alpha.get(RIDER_URL).status_code == 401


def test_key_lifetime_over_a_year_is_refused():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        platform_key_issue(platform_code="delta", lifetime=timedelta(days=366))
    assert not PlatformApiKey.objects.exists()


def test_staff_session_cannot_call_platform_endpoints(client, city_reviewer):
    client.force_login(city_reviewer)
    assert client.get(RIDER_URL).status_code in (401, 403)


def test_bulk_throttle_answers_429_with_retry_after(alpha, monkeypatch, program):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(
        SimpleRateThrottle,
        "THROTTLE_RATES",
        {**SimpleRateThrottle.THROTTLE_RATES, "platform_bulk": "3/min"},
    )
    body = {"offboarded_on": "2026-01-01", "platform_rider_ids": ["X"]}
    # a forged X-Forwarded-For does not reset the per-key count
    statuses = [
        alpha.post(
            "/api/v1/offboardings/",
            body,
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"t{i}",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{i}",
        ).status_code
        for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    response = alpha.post(
        "/api/v1/offboardings/", body, format="json", HTTP_IDEMPOTENCY_KEY="t9"
    )
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
