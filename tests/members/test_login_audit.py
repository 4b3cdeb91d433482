"""Logins, failed logins, lockouts and logouts write audit rows (security.md LG1;
members/login_audit.py): one row per attempt, the account by id only, an
unknown username as a keyed hash, never a phone or what was typed."""

from __future__ import annotations

import json
import re

import pytest
from django.conf import settings
from django.test import Client, override_settings

from members.login_rate import username_ident
from members.models import AuditLog
from members.worker_mfa import trusted_device_value
from tests.factories import login_staff, make_staff, make_user

pytestmark = pytest.mark.django_db

PHONE = "13812345678"
PASSWORD = "correct horse battery staple"  # tests.factories.make_user
WRONG = "not the password"
COOKIE = "trusted_device"  # tests run with insecure cookies (no __Host- prefix)
LOGIN_ACTIONS = ("login", "login_failed", "login_locked_out", "logout")


@pytest.fixture
def worker_user(db):
    return make_user(phone=PHONE)


@pytest.fixture
def staff(db):
    return make_staff(org=None, username="clerk_wang")


def _rows(*actions):
    return list(
        AuditLog.objects.filter(action__in=actions or LOGIN_ACTIONS).order_by("id")
    )


def _row_text(row) -> str:
    return " ".join(
        [
            row.action,
            row.actor_role,
            row.object_type,
            row.object_id,
            row.reason,
            row.field,
            json.dumps(row.detail, ensure_ascii=False),
        ]
    )


def _login(client, username, password=PASSWORD, url="/login/"):
    return client.post(url, {"username": username, "password": password})


def _trusted(client, user):
    client.cookies[COOKIE] = trusted_device_value(user)


# --- Success -----------------------------------------------------------------------


def test_worker_password_login_on_a_trusted_device_is_audited(client, worker_user):
    _trusted(client, worker_user)

    response = _login(client, PHONE)

    assert response.status_code == 302
    (row,) = _rows()
    assert row.action == "login" and row.outcome == "success"
    assert row.actor == worker_user and row.actor_role == "worker"
    assert (row.object_type, row.object_id) == ("user", str(worker_user.pk))
    assert row.detail == {"via": "members:login"}
    assert row.ip == "127.0.0.1" and row.request_id
    assert PHONE not in _row_text(row)


def test_new_device_login_is_audited_when_the_code_logs_in(
    client, worker_user, sms_outbox
):
    assert _login(client, PHONE)["Location"] == "/login/verify/"
    assert _rows() == []  # the password alone did not log in (worker_otp_send did)

    code = re.search(r"\d{6}", sms_outbox[-1][1]).group(0)
    client.post("/login/verify/", {"code": code})

    (row,) = _rows()
    assert row.action == "login" and row.actor == worker_user
    assert row.detail == {"via": "members:login_verify"}


def test_staff_password_step_is_audited(client, staff):
    response = _login(client, "clerk_wang", url="/admin/login/")

    assert response.status_code == 302
    (row,) = _rows()
    assert row.action == "login" and row.actor == staff and row.actor_role == "staff"
    assert row.detail == {"via": "admin:login"}


# --- Failure -----------------------------------------------------------------------


@pytest.mark.parametrize("typed", [PHONE, "138 1234 5678", "+86 138-1234-5678"])
def test_wrong_password_names_the_account_by_id_only(client, worker_user, typed):
    response = _login(client, typed, WRONG)

    assert response.status_code == 200
    (row,) = _rows()
    assert row.action == "login_failed" and row.outcome == "failure"
    assert row.actor is None and row.actor_role == "anonymous"
    assert (row.object_type, row.object_id) == ("user", str(worker_user.pk))
    assert row.detail == {"reason": "wrong_password", "via": "members:login"}
    assert "5678" not in _row_text(row) and WRONG not in _row_text(row)


def test_wrong_staff_password_at_the_admin(client, staff):
    _login(client, "clerk_wang", WRONG, url="/admin/login/")

    (row,) = _rows()
    assert row.action == "login_failed" and row.object_id == str(staff.pk)
    assert row.detail == {"reason": "wrong_password", "via": "admin:login"}


@pytest.mark.parametrize(
    "typed",
    [
        "13900001111",  # a phone without an account
        "110101199003077777",  # an ID number typed into the phone box
        "MySecretPassw0rd!",  # a password typed into the username box
        "王小明",
    ],
)
def test_unknown_username_is_stored_as_a_keyed_hash_only(client, worker_user, typed):
    _login(client, typed, WRONG)

    (row,) = _rows()
    assert row.action == "login_failed" and row.object_id == ""
    assert row.actor is None and row.actor_role == "anonymous"
    assert row.detail == {
        "reason": "unknown_user",
        "username": username_ident(typed),
        "via": "members:login",
    }
    text = _row_text(row)
    assert typed not in text and typed.casefold() not in text.casefold()
    assert "1111" not in text and "7777" not in text


def test_same_unknown_name_twice_gives_the_same_hash(client):
    _login(client, "13900001111", WRONG)
    _login(client, "139-0000-1111", WRONG)

    first, second = _rows()
    assert first.detail["username"] == second.detail["username"]


def test_deactivated_account_with_the_right_password_is_a_failure(client, worker_user):
    worker_user.is_active = False
    worker_user.save()
    _trusted(client, worker_user)

    response = _login(client, PHONE)

    assert response.status_code == 200
    (row,) = _rows()
    assert row.action == "login_failed" and row.object_id == str(worker_user.pk)
    assert row.detail["reason"] == "inactive"


# --- Lockout -------------------------------------------------------------------------


def test_lockout_is_one_denied_row_per_attempt(client, worker_user):
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit):
        last = _login(client, PHONE, WRONG)
    assert last.status_code == 429

    rows = _rows()
    assert [r.action for r in rows] == ["login_failed"] * (limit - 1) + [
        "login_locked_out"
    ]
    locked = rows[-1]
    assert locked.outcome == "denied" and locked.actor is None
    assert locked.object_id == str(worker_user.pk)
    assert locked.detail == {"failures": limit, "via": "members:login"}

    # While locked, even the right password is refused unchecked: a lockout row
    # again, never a login or a wrong-password row.
    _trusted(client, worker_user)
    assert _login(client, PHONE).status_code == 429
    again = _rows()[-1]
    assert again.action == "login_locked_out" and again.outcome == "denied"
    assert not _rows("login")
    assert PHONE not in _row_text(again)


@override_settings(AXES_FAILURE_LIMIT=2)
def test_lockout_of_an_unknown_name_keeps_it_hashed(client):
    typed = "110101199003077777"
    _login(client, typed, WRONG)
    _login(client, typed, WRONG)

    failed, locked = _rows()
    assert failed.action == "login_failed"
    assert locked.action == "login_locked_out" and locked.object_id == ""
    assert locked.detail["username"] == username_ident(typed)
    assert typed not in _row_text(locked)
    # axes' own table keeps its "typed:" key, never the number either.
    from axes.models import AccessAttempt

    (attempt,) = AccessAttempt.objects.all()
    assert attempt.username.startswith("typed:") and typed not in attempt.username


@override_settings(AXES_FAILURE_LIMIT=2)
def test_staff_lockout_at_the_admin(client, staff):
    _login(client, "clerk_wang", WRONG, url="/admin/login/")
    response = _login(client, "clerk_wang", WRONG, url="/admin/login/")

    assert response.status_code == 429
    locked = _rows()[-1]
    assert locked.action == "login_locked_out" and locked.object_id == str(staff.pk)
    assert locked.detail == {"failures": 2, "via": "admin:login"}


# --- Logout --------------------------------------------------------------------------


def test_worker_logout_is_audited(client, worker_user):
    client.force_login(worker_user)

    response = client.post("/logout/")

    assert response.status_code == 302
    row = _rows("logout")[-1]
    assert row.actor == worker_user and row.outcome == "success"
    assert (row.object_type, row.object_id) == ("user", str(worker_user.pk))
    assert row.detail == {"via": "members:logout"}


def test_staff_logout_from_the_admin_is_audited(client, staff):
    login_staff(client, staff)

    client.post("/admin/logout/")

    (row,) = _rows("logout")
    assert row.actor == staff and row.detail == {"via": "admin:logout"}


def test_anonymous_logout_writes_nothing():
    Client().post("/logout/")

    assert _rows() == []
