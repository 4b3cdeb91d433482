"""Platform callers restricted by IP allow-list (security.md AP2): a valid key from
an address outside its platform's networks → 403 with a JSON reason, nothing done,
one audit row per key, endpoint, method and minute however many calls; the client
address is the trusted-proxy one (X-Forwarded-For is not taken at face value);
staff edit the list in the admin (malformed input → form error)."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from members.actions.api_keys import (
    bucket_method,
    platform_ip_refusal_record,
    platform_networks_set,
)
from members.ip_allowlist import address_allowed, normalize_networks
from members.models import (
    AuditLog,
    Platform,
    PlatformApiKey,
    PlatformApiUsage,
    PlatformRider,
)
from services.models import IdempotencyRecord
from tests.factories import login_staff, make_member, make_staff

pytestmark = pytest.mark.django_db

RIDER_URL = "/api/v1/riders/R1/"
OFFBOARD_URL = "/api/v1/offboardings/"
OFFICE_V4 = "203.0.113.0/24"
OFFICE_V6 = "2001:db8:1::/48"


def client_from(issued, ip: str, **extra) -> APIClient:
    client = APIClient(REMOTE_ADDR=ip, **extra)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")
    return client


@pytest.fixture
def office_key(alpha_key):
    """alpha may call only from its office networks (one IPv4, one IPv6)."""
    platform_networks_set(
        platform=alpha_key.key.platform, networks=[OFFICE_V4, OFFICE_V6]
    )
    return alpha_key


@pytest.fixture
def rider(office_key):
    return PlatformRider.objects.create(
        platform=office_key.key.platform,
        member=make_member(phone="13800000009"),
        platform_rider_id="R1",
    )


def refusals():
    return AuditLog.objects.filter(action="platform_ip_refused")


# --- allowed addresses work as before -------------------------------------------


@pytest.mark.parametrize(
    "ip",
    ["203.0.113.7", "203.0.113.255", "2001:db8:1::5", "2001:db8:1:ffff::1"],
)
def test_allowed_ipv4_and_ipv6_addresses_are_served(rider, office_key, program, ip):
    response = client_from(office_key, ip).get(RIDER_URL)

    assert response.status_code == 200
    assert response.json()["platform_rider_id"] == "R1"
    assert not refusals().exists()
    key = PlatformApiKey.objects.get(pk=office_key.key.pk)
    assert key.last_used_at is not None


def test_ipv4_mapped_ipv6_address_counts_as_the_ipv4_address(rider, office_key):
    assert client_from(office_key, "::ffff:203.0.113.7").get(RIDER_URL).status_code == (
        200
    )
    assert client_from(office_key, "::ffff:198.51.100.7").get(
        RIDER_URL
    ).status_code == (403)


# --- refused addresses: 403, clear JSON, nothing done, audited -------------------


@pytest.mark.parametrize("ip", ["198.51.100.1", "203.0.114.1", "2001:db8:2::1", "::1"])
def test_address_outside_the_list_gets_403_with_a_reason(office_key, program, ip):
    response = client_from(office_key, ip).get(RIDER_URL)

    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "ip_not_allowed"
    assert body["client_ip"] == ip
    assert "白名单" in body["detail"]
    assert "WWW-Authenticate" not in response  # the key itself is fine


def test_refused_write_changes_nothing(rider, office_key, program):
    key_before = PlatformApiKey.objects.get(pk=office_key.key.pk)

    response = client_from(office_key, "198.51.100.1").post(
        OFFBOARD_URL,
        {"offboarded_on": "2026-01-01", "platform_rider_ids": ["R1"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="off-1",
    )

    assert response.status_code == 403
    rider.refresh_from_db()
    assert rider.offboarded_on is None
    assert not IdempotencyRecord.objects.exists()  # the key is not even claimed
    assert not AuditLog.objects.filter(action="platform_api_write").exists()
    key_after = PlatformApiKey.objects.get(pk=office_key.key.pk)
    assert key_after.last_used_at == key_before.last_used_at  # not "used"
    # the same Idempotency-Key works from the office afterwards
    ok = client_from(office_key, "203.0.113.9").post(
        OFFBOARD_URL,
        {"offboarded_on": "2026-01-01", "platform_rider_ids": ["R1"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="off-1",
    )
    assert ok.status_code == 200
    assert ok.json()["offboarded"] == 1


def test_refusal_writes_one_audit_row_per_bucket_however_many_calls(
    office_key, program
):
    stranger = client_from(office_key, "198.51.100.1")

    statuses = [stranger.get(RIDER_URL).status_code for _ in range(6)]

    assert statuses == [403] * 6
    buckets = PlatformApiUsage.objects.filter(key=office_key.key)
    # one bucket (two if the calls straddle a minute boundary)
    assert sum(b.refused for b in buckets) == 6
    assert sum(b.errors for b in buckets) == 6
    assert sum(b.requests for b in buckets) == 6
    assert refusals().count() == buckets.count()
    row = refusals().first()
    assert row.outcome == "denied"
    assert row.actor_role == "platform"
    assert row.ip == "198.51.100.1"
    assert row.request_id
    assert row.reason == "not_in_allowlist"
    assert (row.object_type, row.object_id) == (
        "platform_api_key",
        str(office_key.key.pk),
    )
    assert row.detail["endpoint"] == "services-api:rider-detail"
    assert row.detail["method"] == "GET"
    assert row.detail["status"] == 403
    # refused calls are not "use": no platform_key_use row
    assert not AuditLog.objects.filter(action="platform_key_use").exists()


def test_refusal_audit_is_rate_limited_per_minute(office_key):
    key = office_key.key
    t0 = datetime(2026, 11, 23, 8, 0, 5, tzinfo=UTC)
    written = [
        platform_ip_refusal_record(
            key=key,
            endpoint="services-api:rider-detail",
            method=method,
            reason="not_in_allowlist",
            now=t0 + timedelta(seconds=s),
        )
        for s, method in [(0, "GET"), (10, "GET"), (50, "get"), (61, "GET")]
    ]
    # made-up methods share one OTHER bucket instead of one bucket each
    written += [
        platform_ip_refusal_record(
            key=key,
            endpoint="services-api:rider-detail",
            method=method,
            reason="not_in_allowlist",
            now=t0,
        )
        for method in ("FOO1", "FOO2", "FOO3")
    ]

    assert written == [True, False, False, True, True, False, False]
    assert refusals().count() == 3
    assert set(PlatformApiUsage.objects.values_list("method", "refused")) == {
        ("GET", 3),
        ("GET", 1),
        ("OTHER", 3),
    }
    assert bucket_method("patch") == "PATCH"


def test_empty_list_refuses_every_address(alpha_key, program):
    platform_networks_set(platform=alpha_key.key.platform, networks=[])

    response = client_from(alpha_key, "127.0.0.1").get(RIDER_URL)

    assert response.status_code == 403
    assert refusals().get().reason == "allowlist_empty"


def test_missing_client_address_is_refused(office_key):
    response = client_from(office_key, "").get(RIDER_URL)
    assert response.status_code == 403
    assert refusals().get().reason == "client_address_unparsable"


def test_wrong_key_from_a_stranger_still_gets_401(office_key):
    prefix = office_key.key.prefix
    stranger = APIClient(REMOTE_ADDR="198.51.100.1")
    stranger.credentials(HTTP_AUTHORIZATION=f"Bearer {prefix}.{'x' * 43}")
    assert stranger.get(RIDER_URL).status_code == 401
    assert not refusals().exists()
    assert not PlatformApiUsage.objects.exists()


def test_schema_is_behind_the_allow_list_too(office_key):
    assert client_from(office_key, "203.0.113.7").get("/api/schema/").status_code == 200
    assert (
        client_from(office_key, "198.51.100.1").get("/api/schema/").status_code == 403
    )


# --- the client address: trusted proxies only -----------------------------------


def test_forged_x_forwarded_for_without_a_trusted_proxy_is_ignored(
    office_key, program, settings
):
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0

    response = client_from(
        office_key, "198.51.100.1", HTTP_X_FORWARDED_FOR="203.0.113.7"
    ).get(RIDER_URL)

    assert response.status_code == 403
    assert response.json()["client_ip"] == "198.51.100.1"
    assert refusals().get().ip == "198.51.100.1"


def test_behind_one_trusted_proxy_the_address_it_appended_counts(
    rider, office_key, program, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = "10.0.0.2"  # REMOTE_ADDR is the proxy; it appends the real client

    allowed = client_from(office_key, proxy, HTTP_X_FORWARDED_FOR="203.0.113.7")
    # a caller outside the list prepends an office address: the proxy appends
    # the real one, which is what counts
    forged = client_from(
        office_key, proxy, HTTP_X_FORWARDED_FOR="203.0.113.7, 198.51.100.1"
    )

    assert allowed.get(RIDER_URL).status_code == 200
    refused = forged.get(RIDER_URL)
    assert refused.status_code == 403
    assert refused.json()["client_ip"] == "198.51.100.1"


# --- parsing ---------------------------------------------------------------------


def test_networks_are_normalised_and_checked_strictly():
    assert normalize_networks(
        ["203.0.113.0/24", " 2001:DB8:1::/48 ", "198.51.100.7", "::1", "203.0.113.0/24"]
    ) == ["203.0.113.0/24", "2001:db8:1::/48", "198.51.100.7/32", "::1/128"]
    with pytest.raises(ValidationError) as bad:
        normalize_networks(["10.1.2.3/24", "300.1.1.1", "2001:db8::1/32", "abc"])
    messages = bad.value.messages
    assert len(messages) == 4
    assert "10.1.2.0/24" in messages[0] and "10.1.2.3/32" in messages[0]
    assert "300.1.1.1" in messages[1]
    assert "2001:db8::/32" in messages[2]
    assert not address_allowed([], "127.0.0.1")
    assert not address_allowed(["0.0.0.0/0"], "::1")
    assert address_allowed(["0.0.0.0/0", "::/0"], "::1")
    assert address_allowed(["fe80::/10"], "fe80::1%eth0")
    assert not address_allowed(["0.0.0.0/0"], "unknown")


def test_model_validation_refuses_a_bad_stored_list(alpha_key):
    platform = alpha_key.key.platform
    platform.allowed_networks = ["10.1.2.3/24"]
    with pytest.raises(ValidationError):
        platform.full_clean()
    platform.allowed_networks = "10.0.0.0/8"
    with pytest.raises(ValidationError):
        platform.full_clean()


# --- staff manage the list in the admin ------------------------------------------


@pytest.fixture
def admin_client(client, shenzhen):
    login_staff(client, make_staff(org=shenzhen, is_superuser=True))
    return client


def _platform_form(platform: Platform, networks: str) -> dict:
    return {
        "code": platform.code,
        "name": platform.name,
        "credit_code": "",
        "occupations": "[]",
        "is_active": "on",
        "allowed_networks": networks,
        "api_keys-TOTAL_FORMS": "0",
        "api_keys-INITIAL_FORMS": "0",
        "api_keys-MIN_NUM_FORMS": "0",
        "api_keys-MAX_NUM_FORMS": "1000",
    }


def test_admin_saves_a_normalised_list_and_audits_the_change(admin_client, alpha_key):
    platform = alpha_key.key.platform
    url = f"/admin/members/platform/{platform.pk}/change/"

    page = admin_client.get(url)
    assert page.status_code == 200
    assert "127.0.0.0/8\n::1/128" in page.content.decode()
    Platform.objects.create(code="closed", name="未设白名单")
    listing = admin_client.get("/admin/members/platform/").content.decode()
    assert "127.0.0.0/8, ::1/128" in listing
    assert "未设置(拒绝所有调用)" in listing

    response = admin_client.post(
        url,
        _platform_form(platform, "203.0.113.0/24\r\n2001:DB8:1::/48, 198.51.100.7\n"),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    platform.refresh_from_db()
    assert platform.allowed_networks == [
        "203.0.113.0/24",
        "2001:db8:1::/48",
        "198.51.100.7/32",
    ]
    change = AuditLog.objects.get(
        action="platform_networks_change", actor__isnull=False
    )
    assert change.detail["before"] == ["127.0.0.0/8", "::1/128"]
    assert change.detail["after"] == platform.allowed_networks
    # saving again unchanged writes no second row
    admin_client.post(
        url, _platform_form(platform, "\n".join(platform.allowed_networks))
    )
    assert (
        AuditLog.objects.filter(
            action="platform_networks_change", actor__isnull=False
        ).count()
        == 1
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("10.0.0.0/33", "不是有效的IP地址或网段"),
        ("not-an-ip", "不是有效的IP地址或网段"),
        ("10.1.2.3/24", "10.1.2.0/24"),
        ("2001:db8::1/64", "2001:db8::/64"),
    ],
)
def test_admin_refuses_malformed_entries_with_a_form_error(
    admin_client, alpha_key, entry, message
):
    platform = alpha_key.key.platform
    url = f"/admin/members/platform/{platform.pk}/change/"

    response = admin_client.post(
        url, _platform_form(platform, f"203.0.113.0/24\n{entry}")
    )

    assert response.status_code == 200  # the form again, with the error
    html = response.content.decode()
    assert "errorlist" in html
    assert message in html
    platform.refresh_from_db()
    assert platform.allowed_networks == ["127.0.0.0/8", "::1/128"]


# --- the command and the migration -----------------------------------------------


def test_command_allow_adds_networks(capsys):
    call_command(
        "issue_platform_key", "gamma", "--allow", "203.0.113.0/24", "--allow", "::1"
    )
    assert Platform.objects.get(code="gamma").allowed_networks == [
        "203.0.113.0/24",
        "::1/128",
    ]
    call_command("issue_platform_key", "gamma", "--allow", "198.51.100.0/24")
    assert Platform.objects.get(code="gamma").allowed_networks == [
        "203.0.113.0/24",
        "::1/128",
        "198.51.100.0/24",
    ]


def test_command_warns_about_an_empty_list_and_refuses_bad_input(capsys):
    call_command("issue_platform_key", "delta")
    assert "尚未设置IP白名单" in capsys.readouterr().err

    with pytest.raises(CommandError, match="10.1.2.0/24"):
        call_command("issue_platform_key", "epsilon", "--allow", "10.1.2.3/24")
    assert not Platform.objects.filter(code="epsilon").exists()  # nothing issued


def test_migration_keeps_existing_platforms_open_and_audits_it():
    migration = importlib.import_module("members.migrations.0009_platform_ip_allowlist")
    old = Platform.objects.create(code="legacy", name="老平台")
    kept = Platform.objects.create(
        code="narrow", name="已限制", allowed_networks=["203.0.113.0/24"]
    )

    migration.keep_existing_platforms_open(apps, None)

    old.refresh_from_db()
    kept.refresh_from_db()
    assert old.allowed_networks == ["0.0.0.0/0", "::/0"]
    assert kept.allowed_networks == ["203.0.113.0/24"]
    row = AuditLog.objects.get(action="platform_networks_change")
    assert row.object_id == str(old.pk)
