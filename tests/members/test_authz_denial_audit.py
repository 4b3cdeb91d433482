"""Authorisation denials leave audit rows (security.md LG1): a 403 on a page for a
signed-in user, and an admin URL for an object outside the staff user's subtree."""

from __future__ import annotations

import pytest
from django.test import Client

from members.models import AuditLog
from tests.factories import login_staff, make_member, make_staff, make_user

pytestmark = pytest.mark.django_db


def denials():
    return list(AuditLog.objects.filter(action="authz_denied").order_by("id"))


def test_staff_without_the_permission_get_403_and_an_audit_row(client, nanshan):
    staff = make_staff(org=nanshan, perms=("members.view_member",))
    login_staff(client, staff)

    response = client.get("/admin/members/auditlog/")

    assert response.status_code == 403
    [row] = denials()
    assert (row.actor, row.outcome) == (staff, "denied")
    assert row.detail == {"path": "/admin/members/auditlog/", "method": "GET"}


def test_another_unions_member_is_not_found_and_the_probe_is_audited(
    client, nanshan, futian
):
    theirs = make_member(org=futian)
    staff = make_staff(
        org=nanshan, perms=("members.view_member", "members.change_member")
    )
    login_staff(client, staff)

    response = client.get(f"/admin/members/member/{theirs.pk}/change/")

    assert response.status_code == 302  # "does not exist", like a missing id
    [row] = denials()
    assert row.actor == staff
    assert (row.object_type, row.object_id) == ("members.member", str(theirs.pk))
    assert row.detail["reason"] == "out_of_scope"


def test_a_missing_or_malformed_id_is_not_a_denial(client, nanshan):
    staff = make_staff(org=nanshan, perms=("members.view_member",))
    login_staff(client, staff)

    for object_id in ("999999", "abc", "1%27%20OR%201=1"):
        client.get(f"/admin/members/member/{object_id}/change/")

    assert denials() == []


def test_a_superuser_is_never_out_of_scope(client, futian):
    theirs = make_member(org=futian)
    boss = make_staff(org=None, is_superuser=True)
    login_staff(client, boss)

    assert client.get(f"/admin/members/member/{theirs.pk}/change/").status_code == 200
    assert denials() == []


def test_anonymous_csrf_failures_are_not_audited_as_denials():
    client = Client(enforce_csrf_checks=True)

    response = client.post("/login/", {"username": "13812345678", "password": "x"})

    assert response.status_code == 403
    assert denials() == []


def test_a_worker_refused_a_page_is_audited():
    worker = make_user(phone="13812345678")
    client_csrf = Client(enforce_csrf_checks=True)
    client_csrf.force_login(worker)

    response = client_csrf.post("/me/requests/", {"kind": "export"})

    assert response.status_code == 403  # no CSRF token
    [row] = denials()
    assert row.actor == worker and row.detail["method"] == "POST"
