"""Logout and deactivation end sessions (security.md SE4): the cookie of a
logged-out session no longer authenticates, and a deactivated account's
existing session is anonymous at its next request (ModelBackend.get_user
returns None for an inactive user). Password and phone changes:
tests/members/test_account_security.py."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.forms import MultiWidget
from django.test import Client
from django.urls import reverse

from members.models import User
from members.worker_mfa import trusted_device_value
from tests.factories import login_staff, make_staff, make_user

pytestmark = pytest.mark.django_db

PHONE = "13812345678"
PASSWORD = "correct horse battery staple"  # tests.factories.make_user


@pytest.fixture
def worker_user(db):
    return make_user(phone=PHONE)


def _worker_signed_in(user) -> Client:
    """A worker client logged in through the real /login/ (trusted browser)."""
    client = Client()
    client.cookies["trusted_device"] = trusted_device_value(user)
    response = client.post("/login/", {"username": PHONE, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/me/"
    assert client.get("/me/").status_code == 200
    return client


def _with_cookie(session_key: str) -> Client:
    other = Client()
    other.cookies["sessionid"] = session_key
    return other


def _is_login_redirect(response, login_url: str) -> bool:
    return response.status_code == 302 and response["Location"].startswith(login_url)


# --- Logout ----------------------------------------------------------------------


def test_worker_cookie_after_logout_no_longer_authenticates(worker_user):
    client = _worker_signed_in(worker_user)
    old = client.cookies["sessionid"].value

    assert client.post("/logout/").status_code == 302

    assert not Session.objects.filter(session_key=old).exists()
    replay = _with_cookie(old)
    assert _is_login_redirect(replay.get("/me/"), "/login/")
    assert SESSION_KEY not in replay.session
    # the browser that logged out is anonymous too
    assert _is_login_redirect(client.get("/me/"), "/login/")


def test_staff_cookie_after_admin_logout_no_longer_authenticates(db):
    staff = make_staff(org=None, username="clerk_li", is_superuser=True)
    client = Client()
    login_staff(client, staff)
    assert client.get("/admin/").status_code == 200
    old = client.cookies["sessionid"].value

    client.post("/admin/logout/")

    replay = _with_cookie(old)
    assert _is_login_redirect(replay.get("/admin/"), "/admin/login/")
    assert _is_login_redirect(replay.get("/me/"), "/login/")


# --- Deactivation ----------------------------------------------------------------


def test_deactivated_worker_is_anonymous_at_the_next_request(worker_user):
    client = _worker_signed_in(worker_user)

    worker_user.is_active = False
    worker_user.save(update_fields=["is_active"])

    assert _is_login_redirect(client.get("/me/"), "/login/")
    assert client.post("/me/requests/", {"kind": "deletion"}).status_code in (302, 403)
    assert SESSION_KEY not in client.session


def test_reactivation_does_not_bring_the_old_session_back(worker_user):
    client = _worker_signed_in(worker_user)
    old = client.cookies["sessionid"].value
    User.objects.filter(pk=worker_user.pk).update(is_active=False)
    assert _is_login_redirect(client.get("/me/"), "/login/")

    User.objects.filter(pk=worker_user.pk).update(is_active=True)

    assert not Session.objects.filter(session_key=old).exists()
    assert _is_login_redirect(_with_cookie(old).get("/me/"), "/login/")
    assert _is_login_redirect(client.get("/me/"), "/login/")


def test_deactivated_by_a_bulk_update_too(worker_user):
    client = _worker_signed_in(worker_user)

    User.objects.filter(pk=worker_user.pk).update(is_active=False)

    assert _is_login_redirect(client.get("/me/"), "/login/")


def test_deactivated_staff_loses_the_admin_at_once(db):
    staff = make_staff(org=None, username="clerk_zhao", is_superuser=True)
    client = Client()
    login_staff(client, staff)
    assert client.get("/admin/").status_code == 200

    User.objects.filter(pk=staff.pk).update(is_active=False)

    assert _is_login_redirect(client.get("/admin/"), "/admin/login/")


def _change_form_data(response) -> dict:
    """The admin change form's current values, as the browser would post them."""
    form = response.context["adminform"].form
    data: dict = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if isinstance(field.widget, MultiWidget):
            for i, part in enumerate(field.widget.decompress(value)):
                data[f"{name}_{i}"] = "" if part is None else str(part)
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        elif value is not None:
            data[name] = str(value)
    return data


def test_deactivated_in_the_admin_ends_the_workers_session(worker_user):
    client = _worker_signed_in(worker_user)
    admin = Client()
    login_staff(admin, make_staff(org=None, username="root", is_superuser=True))
    url = reverse("admin:members_user_change", args=[worker_user.pk])
    data = _change_form_data(admin.get(url))
    assert data.pop("is_active") == "on"

    response = admin.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    worker_user.refresh_from_db()
    assert worker_user.is_active is False
    assert _is_login_redirect(client.get("/me/"), "/login/")
    # and the account cannot log in again
    again = Client()
    again.cookies["trusted_device"] = trusted_device_value(worker_user)
    page = again.post("/login/", {"username": PHONE, "password": PASSWORD})
    assert page.status_code == 200 and SESSION_KEY not in again.session
