"""The admin's 修改密码 page (staff): attempts are limited per account before the
current password is hashed (security.md AU3), every attempt's outcome is
audited (LG1), and Redis down is a 503, never a 500."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.cache import cache
from django.test import Client

from members.models import AuditLog, User
from portal.throttling import ThrottleUnavailable
from tests.factories import login_staff, make_org, make_staff

pytestmark = pytest.mark.django_db

URL = "/admin/password_change/"
NEW = "Zhe-shi-xin-mima-2026"


@pytest.fixture
def staff(client):
    # The test cache is kept across tests, and SQLite reuses primary keys: a
    # counter another test left under this user id must not count here.
    cache.clear()
    user = make_staff(org=make_org())
    user.set_password("Jiu-mima-2026-abc")
    user.save()
    login_staff(client, user)
    return user


def _post(client, old):
    return client.post(
        URL, {"old_password": old, "new_password1": NEW, "new_password2": NEW}
    )


def _audits(user, outcome):
    return list(
        AuditLog.objects.filter(
            action="password_change", object_id=str(user.pk), outcome=outcome
        ).values_list("detail", flat=True)
    )


def test_the_page_is_the_portal_form(client, staff):
    response = client.get(URL)
    assert response.status_code == 200
    assert response.context["form"].__class__.__name__ == "StaffPasswordChangeForm"


def test_a_change_works_and_is_audited_without_the_password(client, staff):
    response = _post(client, "Jiu-mima-2026-abc")

    assert response.status_code == 302
    assert response["Location"] == "/admin/password_change/done/"
    staff.refresh_from_db()
    assert staff.check_password(NEW)
    assert _audits(staff, AuditLog.Outcome.SUCCESS) == [{"via": "admin"}]
    assert NEW not in str(AuditLog.objects.values_list("detail", "reason"))
    # Django re-stamps this session: it stays signed in.
    assert client.get("/admin/").status_code == 200


def test_a_wrong_current_password_is_audited(client, staff):
    response = _post(client, "not-the-password")

    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors
    assert _audits(staff, AuditLog.Outcome.FAILURE) == [
        {"reason": "wrong_password", "via": "admin"}
    ]
    staff.refresh_from_db()
    assert not staff.check_password(NEW)


def test_attempts_are_limited_before_the_password_is_hashed(
    client, staff, settings, monkeypatch
):
    settings.PASSWORD_CHANGE_RATE = "3/hour"
    statuses = [_post(client, f"wrong-{i}").status_code for i in range(3)]
    checks = []
    monkeypatch.setattr(
        User, "check_password", lambda self, raw: checks.append(raw) or True
    )

    limited = _post(client, "Jiu-mima-2026-abc")

    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert checks == []  # the right password would not even be tried
    assert "尝试次数过多" in limited.content.decode()
    staff.refresh_from_db()
    monkeypatch.undo()
    assert not staff.check_password(NEW)


def test_the_limit_is_per_account(client, staff, settings):
    settings.PASSWORD_CHANGE_RATE = "2/hour"
    for i in range(2):
        _post(client, f"wrong-{i}")
    other = make_staff(org=make_org(region_code="440306"))
    other.set_password("Jiu-mima-2026-abc")
    other.save()
    other_client = Client()
    login_staff(other_client, other)

    assert _post(other_client, "Jiu-mima-2026-abc").status_code == 302


def test_redis_down_is_503_and_nothing_is_checked(client, staff, monkeypatch):
    checks = []
    monkeypatch.setattr(
        User, "check_password", lambda self, raw: checks.append(raw) or True
    )
    with mock.patch(
        "members.forms.rate_limit_wait", side_effect=ThrottleUnavailable("down")
    ):
        response = _post(client, "Jiu-mima-2026-abc")

    assert response.status_code == 503
    assert response["Retry-After"]
    assert checks == []


@pytest.mark.parametrize(
    "old", ["", "x" * 10_000, "nul \x00 in it", "<script>alert(1)</script>"]
)
def test_hostile_input_is_a_form_error(client, staff, old):
    response = _post(client, old)
    assert response.status_code == 200
    assert response.context["form"].errors
