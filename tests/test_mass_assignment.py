"""security.md AC6: no mass assignment through the worker forms.

Each form posts, next to its own fields, the fields an attacker would add:
`status`, `member_no`, `org`/`org_id` (where the form has none), `is_staff`,
`is_superuser`, `user`/`user_id` and the like. The rows written hold only what
the form allows; everything else keeps its server-decided value."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from members.models import (
    ApplicationStatus,
    DataRequest,
    Member,
    MembershipApplication,
    User,
)
from services.models import ProblemReport
from tests.factories import make_user, step_up
from tests.members.factories import join_post_data, make_verified_user
from tests.services.stations_factories import make_station

pytestmark = pytest.mark.django_db

PASSWORD = "晚上送完外卖回家睡觉 2026"


def _forged(*, victim: User, org) -> dict:
    return {
        "status": "approved",
        "member_no": "M999999999",
        "org_id": str(org.pk),
        "is_staff": "on",
        "is_superuser": "on",
        "is_active": "on",
        "user": str(victim.pk),
        "user_id": str(victim.pk),
        "member": "1",
        "decided_by": str(victim.pk),
        "reject_reason": "x",
        "decided_at": "2020-01-01T00:00:00Z",
        "phone_verified_at": "2020-01-01T00:00:00Z",
        "session_epoch": "99",
    }


def test_join_ignores_status_member_no_user_and_privileges(client, sz_tree):
    victim = make_verified_user()
    user = make_verified_user()
    client.force_login(user)
    city = sz_tree["city"]  # not a joinable org, not the one the form decides

    response = client.post(
        reverse("members:join"),
        join_post_data(**_forged(victim=victim, org=city)),
    )

    assert response.status_code == 302
    application = MembershipApplication.objects.get()
    assert application.user == user
    assert application.status == ApplicationStatus.PENDING
    assert application.org == sz_tree["440305_pool"]  # chosen from the residence
    assert application.decided_by_id is None and application.decided_at is None
    assert application.member_id is None and application.reject_reason == ""
    assert not Member.objects.exists()  # no member, no member_no
    user.refresh_from_db()
    assert not (user.is_staff or user.is_superuser) and user.org_id is None
    assert not MembershipApplication.objects.filter(user=victim).exists()


def test_join_refuses_an_org_outside_the_joinable_list(client, sz_tree):
    """`org` is a form field: a value outside its choices is a form error."""
    user = make_verified_user()
    client.force_login(user)

    response = client.post(
        reverse("members:join"),
        join_post_data(org=str(sz_tree["city"].pk)),
    )

    assert response.status_code == 200
    assert "org" in response.context["form"].errors
    assert not MembershipApplication.objects.exists()


def test_register_makes_a_plain_worker_whatever_else_is_posted(
    client, sz_tree, sms_outbox
):
    victim = make_user(username="victim")
    url = reverse("members:register")
    client.post(url, {"phone": "13612345678", "action": "send_code"})
    code = re.search(r"\d{6}", sms_outbox[-1][1]).group(0)

    response = client.post(
        url,
        {
            "phone": "13612345678",
            "code": code,
            "password1": PASSWORD,
            "password2": PASSWORD,
            "action": "register",
            "username": "admin",
            "org": str(sz_tree["city"].pk),
            "groups": "1",
            "user_permissions": "1",
            **_forged(victim=victim, org=sz_tree["city"]),
        },
    )

    assert response.status_code == 302
    user = User.objects.exclude(pk=victim.pk).get()
    assert user.phone == "13612345678"
    assert not (user.is_staff or user.is_superuser)
    assert user.is_active
    assert user.org_id is None and user.username != "admin"
    assert user.session_epoch == 0
    assert not user.groups.exists() and not user.user_permissions.exists()
    victim.refresh_from_db()
    assert victim.check_password("correct horse battery staple")


def test_data_request_is_the_callers_open_request_whatever_else_is_posted(
    client, sz_tree
):
    victim = make_verified_user()
    user = make_verified_user()
    client.force_login(user)
    step_up(client)

    response = client.post(
        reverse("members:data_request"),
        {
            "kind": "deletion",
            "note": "请删除",
            "response": "已处理",
            "processed_by": str(victim.pk),
            "processed_at": "2020-01-01T00:00:00Z",
            "org": str(sz_tree["city"].pk),
            **_forged(victim=victim, org=sz_tree["city"]),
            "status": "done",
        },
    )

    assert response.status_code == 302
    request = DataRequest.objects.get()
    assert request.user == user and request.member is None
    assert request.status == "open"
    assert request.org is None  # the caller has no member or application
    assert request.response == "" and request.processed_at is None
    assert request.processed_by_id is None


def test_station_report_lands_open_on_the_page_station_whatever_else_is_posted(
    client, sz_tree
):
    victim = make_user(username="victim")
    station = make_station(name="南山驿站", org=sz_tree["440305"])
    other = make_station(name="福田驿站", org=sz_tree["440304"], county_code="440304")

    response = client.post(
        station.get_absolute_url(),
        {
            "kind": "supplies_missing",
            "text": "没有热水",
            "station": str(other.pk),
            "station_id": str(other.pk),
            "resolved_by": str(victim.pk),
            "resolved_at": "2020-01-01T00:00:00Z",
            "resolution_note": "已解决",
            "created_at": "2020-01-01T00:00:00Z",
            **_forged(victim=victim, org=sz_tree["city"]),
            "status": "resolved",
        },
    )

    assert response.status_code == 302
    report = ProblemReport.objects.get()
    assert report.station == station
    assert report.status == "open"
    assert report.resolved_by_id is None and report.resolved_at is None
    assert report.resolution_note == ""
    assert timezone.now() - report.created_at < timedelta(minutes=1)
    assert not other.problem_reports.exists()
