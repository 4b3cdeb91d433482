"""Platform API keys: hashed at rest, shown once, expire, can be revoked."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from members.actions.platforms import platform_key_issue, platform_key_revoke
from members.models import AuditLog, Platform, PlatformApiKey
from members.selectors.platforms import platform_for_api_key
from tests.factories import make_platform

pytestmark = pytest.mark.django_db


def test_command_creates_platform_and_prints_the_key_last():
    out = StringIO()

    call_command("issue_platform_key", "meituan", "--name", "美团", stdout=out)

    raw_key = out.getvalue().strip().splitlines()[-1]
    platform = Platform.objects.get(code="meituan")
    assert platform.name == "美团"
    key = PlatformApiKey.objects.get()
    assert raw_key.startswith(f"pk_{key.prefix}_")
    assert raw_key not in key.key_hash
    assert platform_for_api_key(raw_key=raw_key) == platform
    # a second key for the same platform reuses the platform row
    call_command("issue_platform_key", "meituan", stdout=StringIO())
    assert Platform.objects.count() == 1
    assert PlatformApiKey.objects.count() == 2


def test_wrong_expired_and_revoked_keys_do_not_authenticate():
    platform = make_platform()
    key, raw_key = platform_key_issue(platform=platform)

    assert platform_for_api_key(raw_key=raw_key[:-1] + "x") is None
    assert platform_for_api_key(raw_key="") is None
    assert platform_for_api_key(raw_key="pk_" + "a" * 500) is None

    PlatformApiKey.objects.filter(pk=key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert platform_for_api_key(raw_key=raw_key) is None

    key2, raw_key2 = platform_key_issue(platform=platform)
    assert platform_key_revoke(key=key2, actor=None) is True
    assert platform_key_revoke(key=key2, actor=None) is False
    assert platform_for_api_key(raw_key=raw_key2) is None
    assert AuditLog.objects.filter(action="platform_key_revoke").count() == 1


def test_admin_issues_a_key_once_and_revokes(admin_client):
    platform = make_platform(code="eleme", name="饿了么")

    page = admin_client.post(
        reverse("admin:members_platform_changelist"),
        {"action": "issue_key", "_selected_action": [platform.pk]},
    )

    body = page.content.decode()
    key = PlatformApiKey.objects.get()
    assert f"pk_{key.prefix}_" in body
    assert "no-store" in page["Cache-Control"]
    change = admin_client.get(
        reverse("admin:members_platform_change", args=[platform.pk])
    )
    assert f"pk_{key.prefix}_" not in change.content.decode()

    admin_client.post(
        reverse("admin:members_platformapikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [key.pk]},
    )
    key.refresh_from_db()
    assert key.revoked_at is not None
