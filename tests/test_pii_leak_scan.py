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


def leaks(body: str) -> list[str]:
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
