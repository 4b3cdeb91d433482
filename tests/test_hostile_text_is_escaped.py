"""security.md IV3 / B7: markup stored in a text field is shown as text.

A name, station name or problem report holding `<img src=x onerror=...>` or a
`<script>` is stored (through the real forms where the form accepts it) and
then rendered on every page that shows it, worker pages and the admin (list,
change page, search results): the live tag never appears, its escaped form
does where the value is shown unmasked."""

from __future__ import annotations

import pytest
from django.urls import reverse

from members.models import Member, MembershipApplication
from services.actions.stations import problem_report_submit
from services.models import ProblemReport, Station
from tests.factories import login_staff, make_member, make_staff
from tests.members.factories import (
    REVIEWER_PERMS,
    join_post_data,
    make_verified_user,
    submit_application,
)
from tests.services.stations_factories import make_station

pytestmark = pytest.mark.django_db

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
PAYLOADS = [IMG, SCRIPT]
# What must never reach a page: the start of the live tag.
LIVE = {IMG: "<img src=x onerror", SCRIPT: "<script>alert"}
ESCAPED = {IMG: "&lt;img src=x onerror=alert(1)&gt;", SCRIPT: "&lt;script&gt;alert"}
STATION_PERMS = ("services.view_station", "services.change_station")
REPORT_PERMS = ("services.view_problemreport", "services.change_problemreport")


def _body(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _assert_no_live_tag(body: str, payload: str) -> None:
    assert LIVE[payload] not in body
    assert "onerror=alert(1)>" not in body.replace("&gt;", "")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_hostile_name_through_the_join_form_is_escaped_on_worker_pages(
    client, sz_tree, payload
):
    user = make_verified_user()
    client.force_login(user)

    response = client.post(reverse("members:join"), join_post_data(name=payload))

    assert response.status_code == 302
    application = MembershipApplication.objects.get(user=user)
    assert application.name == payload  # stored as typed, not mangled
    me = _body(client.get(reverse("members:me")))
    _assert_no_live_tag(me, payload)
    prefill = _body(client.get(reverse("members:join")))
    _assert_no_live_tag(prefill, payload)
    assert f'value="{ESCAPED[payload]}' in prefill


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_member_with_a_hostile_name_sees_it_escaped_on_me_and_the_card(
    client, sz_tree, payload
):
    user = make_verified_user()
    make_member(user=user, org=sz_tree["440305_pool"], name=payload)
    client.force_login(user)

    me = _body(client.get(reverse("members:me")))
    card = _body(client.get(reverse("members:card")))

    _assert_no_live_tag(me, payload)
    _assert_no_live_tag(card, payload)
    assert ESCAPED[payload] in card  # the card shows the full name


@pytest.mark.parametrize("payload", PAYLOADS)
def test_admin_list_change_page_and_search_escape_a_hostile_name(
    client, sz_tree, payload
):
    reviewer = make_staff(
        org=sz_tree["440305"], perms=REVIEWER_PERMS, username="rv_xss"
    )
    user = make_verified_user(phone="13766665555")
    application = submit_application(user=user, name=payload)
    member = make_member(org=sz_tree["440305_pool"], name=payload, phone="13766664444")
    login_staff(client, reviewer)
    member_list = reverse("admin:members_member_changelist")
    application_list = reverse("admin:members_membershipapplication_changelist")

    pages = {
        "member list": client.get(member_list),
        "member search by phone": client.get(
            member_list, {"q": "13766664444"}, follow=True
        ),
        "member search by hostile term": client.get(member_list, {"q": payload}),
        "member change": client.get(
            reverse("admin:members_member_change", args=[member.pk])
        ),
        "application list": client.get(application_list),
        "application search by phone": client.get(
            application_list, {"q": "13766665555"}, follow=True
        ),
        "application change": client.get(
            reverse("admin:members_membershipapplication_change", args=[application.pk])
        ),
    }

    for page, response in pages.items():
        body = _body(response)
        _assert_no_live_tag(body, payload)
        assert "&lt;" in body, page  # the masked name (first character) is there
    assert list(pages["member search by phone"].context["cl"].result_list) == [member]
    assert list(pages["application search by phone"].context["cl"].result_list) == [
        application
    ]
    # the search term itself is echoed escaped in the search box
    assert ESCAPED[payload] in pages["member search by hostile term"].content.decode()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_hostile_station_name_and_report_are_escaped_on_public_and_admin_pages(
    client, sz_tree, payload
):
    station = make_station(name=f"驿站{payload}", org=sz_tree["440305"])
    report = problem_report_submit(station=station, kind="other", text=payload)
    assert ProblemReport.objects.get(pk=report.pk).text == payload
    staff = make_staff(
        org=sz_tree["440305"], perms=STATION_PERMS + REPORT_PERMS, username="st_xss"
    )

    detail = _body(client.get(station.get_absolute_url()))
    listing = _body(client.get(reverse("services:stations"), {"district": "440305"}))
    _assert_no_live_tag(detail, payload)
    assert ESCAPED[payload] in detail
    _assert_no_live_tag(listing, payload)

    login_staff(client, staff)
    station_list = reverse("admin:services_station_changelist")
    report_list = reverse("admin:services_problemreport_changelist")
    pages = {
        "station list": client.get(station_list),
        "station search": client.get(station_list, {"q": payload}),
        "station change": client.get(
            reverse("admin:services_station_change", args=[station.pk])
        ),
        "report list": client.get(report_list),
        "report search": client.get(report_list, {"q": payload}),
        "report change": client.get(
            reverse("admin:services_problemreport_change", args=[report.pk])
        ),
    }
    for page, response in pages.items():
        body = _body(response)
        _assert_no_live_tag(body, payload)
        assert ESCAPED[payload] in body, page
    assert list(pages["station search"].context["cl"].result_list) == [station]
    assert list(pages["report search"].context["cl"].result_list) == [report]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_refused_report_redisplays_the_hostile_text_escaped(client, sz_tree, payload):
    station = make_station(org=sz_tree["440305"])

    # an invalid contact makes the form come back with the text filled in
    response = client.post(
        station.get_absolute_url(),
        {"kind": "other", "text": payload, "contact": "not-a-phone"},
    )

    assert response.status_code == 400
    body = response.content.decode()
    _assert_no_live_tag(body, payload)
    assert ESCAPED[payload] in body
    assert not ProblemReport.objects.exists()


def test_hostile_names_stay_data_in_the_database(sz_tree):
    """The payloads are stored verbatim (escaping is an output concern) and
    queries with them are parameterised: no database error."""
    member = make_member(org=sz_tree["440305_pool"], name="x'); DROP TABLE members;--")
    station = make_station(name="{{ 7*7 }}{% debug %}", org=sz_tree["440305"])

    assert Member.objects.get(pk=member.pk).name == "x'); DROP TABLE members;--"
    assert Station.objects.filter(name__contains="{{ 7*7 }}").get() == station


@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_request_notes_reasons_and_answers_are_escaped(
    client, payload, nanshan_gig_pool, nanshan
):
    """B7's other free text: a worker's data-request note, a reviewer's refusal
    reason and answer, and an application's reject reason, on the worker's
    pages and in the admin."""
    from members.actions.joining import application_reject
    from members.actions.people import data_request_create, data_request_process
    from members.models import DataRequest
    from tests.factories import step_up

    reviewer = make_staff(org=nanshan, perms=REVIEWER_PERMS, username="rv_b7")
    login_staff(client, reviewer)
    # an application refused with the payload as its reason
    applicant = make_verified_user()
    application = submit_application(user=applicant, org=nanshan_gig_pool)
    application_reject(application_id=application.pk, reviewer=reviewer, reason=payload)
    # a member's request with the payload as its note, answered with it
    member = make_member(user=make_verified_user(), org=nanshan_gig_pool)
    request = data_request_create(user=member.user, kind="explanation", note=payload)
    data_request_process(
        request_id=request.pk, staff=reviewer, status="done", response=payload
    )
    assert DataRequest.objects.get().response == payload

    # admin: the request list and change page, the application list and page
    for url in (
        reverse("admin:members_datarequest_changelist"),
        reverse("admin:members_datarequest_change", args=[request.pk]),
        reverse("admin:members_membershipapplication_change", args=[application.pk]),
    ):
        _assert_no_live_tag(_body(client.get(url)), payload)

    # the worker who asked, and the refused applicant, on their own pages
    for user in (member.user, applicant):
        client.force_login(user)
        step_up(client)
        for url in ("/me/", "/me/requests/", "/join/", "/messages/"):
            response = client.get(url)
            if response.status_code == 302:  # /join/ for a member
                continue
            _assert_no_live_tag(_body(response), payload)
    client.force_login(applicant)
    assert ESCAPED[payload] in _body(client.get("/me/"))
