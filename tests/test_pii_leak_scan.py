"""security.md B9 / PI6: no page a worker or a reviewer opens carries an ID
number or a phone in clear text. The scan looks for what a real leak scanner
looks for: 18-character runs that pass the GB 11643 check digit, and mobile
numbers."""

from __future__ import annotations

import re

import pytest

from members.validators import id_check_char
from tests.factories import login_staff, make_member, make_user, step_up

pytestmark = pytest.mark.django_db

_ID_RUN = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")

WORKER_PAGES = [
    "/",
    "/me/",
    "/me/card/",
    "/me/export/",  # the page before the download (after a step-up)
    "/me/requests/",
    "/me/verify/",
    "/me/password/",  # after a step-up, like the export
    "/me/phone/",  # the current number, masked
    "/messages/",
    "/services/programs/",
    "/services/programs/mine/",
    "/services/programs/check/",
    "/services/stations/?district=440305",
]


# Random hex tokens (request and task ids, claim tokens, key labels) are 5/8
# digits: one in a few thousand holds 11 digits in a row that start 13–19. They
# are removed before the scan: a token of 16+ hex characters with a letter a–f in
# it, dashes allowed (UUIDs). An ID number (digits and X) or a phone is not one.
_HEX_TOKEN = re.compile(r"(?<![0-9A-Za-z])(?=[0-9a-fA-F-]*[a-fA-F])[0-9a-fA-F-]{16,}")


def leaks(body: str) -> list[str]:
    body = _HEX_TOKEN.sub("<token>", body)
    found = [m for m in _ID_RUN.findall(body) if id_check_char(m[:17]) == m[17]]
    return found + _MOBILE.findall(body)


@pytest.fixture
def approved_worker(nanshan_gig_pool):
    user = make_user(phone="13812345678")
    return make_member(
        user=user,
        org=nanshan_gig_pool,
        phone="13812345678",
        id_number="440305199003071236",
    )


def test_worker_pages_show_no_clear_id_or_phone(client, approved_worker):
    client.force_login(approved_worker.user)
    step_up(client)

    for path in WORKER_PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert leaks(response.content.decode()) == [], path


def test_reviewer_admin_pages_show_no_clear_id_or_phone(
    client, approved_worker, city_reviewer
):
    from django.contrib.auth.models import Permission

    city_reviewer.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="members",
            codename__in=["view_member", "view_membershipapplication"],
        )
    )
    login_staff(client, city_reviewer)

    pages = [
        "/admin/members/member/",
        f"/admin/members/member/{approved_worker.pk}/change/",
        "/admin/members/membershipapplication/",
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert leaks(response.content.decode()) == [], path


def test_member_numbers_never_look_like_id_numbers(nanshan_gig_pool):
    from datetime import date

    from members.actions.joining import _member_no

    member = make_member(org=nanshan_gig_pool)
    for pk in range(1, 200):
        member.pk = pk
        number = _member_no(member=member, org=nanshan_gig_pool, day=date(2026, 1, 1))
        assert leaks(number) == []


def test_the_audit_log_holds_no_clear_id_or_phone(client, approved_worker, sz_tree):
    """security.md LG2: a representative run of audited actions (a failed login
    typed with the phone, the worker's export and request, a reviewer's search
    by the full phone and ID number, and a reveal) leaves no ID or mobile number
    in any audit row."""
    from django.contrib.auth.models import Permission
    from django.urls import reverse

    from members.models import AuditLog
    from tests.factories import assign_case, make_staff

    phone, id_number = "13812345678", "440305199003071236"
    client.post("/login/", {"username": phone, "password": "wrong password 1"})
    client.force_login(approved_worker.user)
    step_up(client)
    client.post("/me/export/")
    client.post("/me/requests/", {"kind": "explanation", "note": f"我的号码{phone}"})
    client.logout()
    reviewer = make_staff(org=sz_tree["city"], username="rv_scan")
    reviewer.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="members",
            codename__in=["view_member", "change_member", "view_sensitive"],
        )
    )
    assign_case(reviewer, approved_worker)
    login_staff(client, reviewer)
    client.get("/admin/members/member/", {"q": phone}, follow=True)
    client.get("/admin/members/member/", {"q": id_number}, follow=True)
    response = client.post(
        reverse("admin:members_member_reveal", args=[approved_worker.pk]),
        {"field": "id_number", "reason": f"核对 {id_number}"},
    )
    assert response.status_code == 200 and id_number in response.content.decode()

    rows = list(AuditLog.objects.values())
    actions = {row["action"] for row in rows}
    assert {"member_reveal", "personal_data_export", "data_request_create"} <= actions
    for row in rows:
        assert leaks(repr(row)) == [], row["action"]
