"""Review in the admin: subtree scoping everywhere (security.md AC4), blind-index
search, approve/reject actions, reveal with audit (AC5)."""

import pytest
from django.urls import reverse

from members.models import (
    ApplicationStatus,
    AuditLog,
    Member,
    MembershipApplication,
    MemberStatus,
)
from tests.factories import assign_case, login_staff, make_member, make_staff
from tests.members.factories import (
    REVIEWER_PERMS,
    make_verified_user,
    submit_application,
)

pytestmark = pytest.mark.django_db

FUTIAN_ID = "440304199505010015"
FUTIAN_PHONE = "13755556666"


@pytest.fixture
def futian_applicant(sz):
    user = make_verified_user(phone=FUTIAN_PHONE)
    return submit_application(
        user=user, id_number=FUTIAN_ID, name="赵六", residence_county="440304"
    )


@pytest.fixture
def nanshan_applicant(sz):
    return submit_application(name="钱七", residence_county="440305")


def _changelist(client, q=""):
    url = reverse("admin:members_membershipapplication_changelist")
    return client.get(url, {"q": q} if q else {}, follow=True)


def test_nanshan_reviewer_sees_only_nanshan_applicants(
    client, rv_nanshan, futian_applicant, nanshan_applicant
):
    login_staff(client, rv_nanshan)

    response = _changelist(client)

    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert shown == [nanshan_applicant]
    body = response.content.decode()
    assert "赵*" not in body
    assert "福田区新业态联合工会" not in body  # not even in the org filter
    assert FUTIAN_PHONE not in body and FUTIAN_ID not in body


def test_nanshan_reviewer_cannot_find_futian_applicant_by_id_or_phone(
    client, rv_nanshan, futian_applicant
):
    login_staff(client, rv_nanshan)

    for term in (FUTIAN_ID, FUTIAN_PHONE, "赵六"):
        response = _changelist(client, term)
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == []


def test_nanshan_reviewer_cannot_open_futian_change_page(
    client, rv_nanshan, futian_applicant
):
    login_staff(client, rv_nanshan)
    url = reverse(
        "admin:members_membershipapplication_change", args=[futian_applicant.pk]
    )

    response = client.get(url, follow=True)

    body = response.content.decode()
    assert response.redirect_chain  # the admin redirects "not found" to the index
    assert "440304" not in body and "赵" not in body


def test_futian_reviewer_finds_applicant_by_full_id_and_phone(
    client, rv_futian, futian_applicant
):
    login_staff(client, rv_futian)

    for term in (
        FUTIAN_ID,
        "4403 0419 9505 0100 15",
        FUTIAN_PHONE,
        "+86 137-5555-6666",
    ):
        response = _changelist(client, term)
        assert list(response.context["cl"].result_list) == [futian_applicant]
    response = _changelist(client, FUTIAN_ID)
    body = response.content.decode()
    assert response.redirect_chain[0][0].startswith("/admin/")
    assert "q=bi%3Aid%3A" in response.redirect_chain[0][0]
    assert FUTIAN_ID not in body
    assert "4****************5" in body


def test_reviewer_detail_shows_first_six_and_last_four(
    client, rv_futian, futian_applicant
):
    login_staff(client, rv_futian)
    url = reverse(
        "admin:members_membershipapplication_change", args=[futian_applicant.pk]
    )

    body = client.get(url).content.decode()

    assert "440304********0015" in body
    assert FUTIAN_ID not in body
    assert "137****6666" in body


def test_member_search_and_change_page_are_scoped(client, rv_nanshan, sz):
    futian_member = make_member(org=sz["440304_pool"], phone="13766667777")
    nanshan_member = make_member(org=sz["440305_pool"], phone="13766668888")
    login_staff(client, rv_nanshan)

    changelist = client.get(
        reverse("admin:members_member_changelist"), {"q": "13766667777"}, follow=True
    )
    assert list(changelist.context["cl"].result_list) == []
    changelist = client.get(
        reverse("admin:members_member_changelist"), {"q": "13766668888"}, follow=True
    )
    assert list(changelist.context["cl"].result_list) == [nanshan_member]
    page = client.get(
        reverse("admin:members_member_change", args=[futian_member.pk]), follow=True
    )
    assert page.redirect_chain


def test_approve_action_calls_the_action(client, rv_futian, futian_applicant):
    login_staff(client, rv_futian)

    response = client.post(
        reverse("admin:members_membershipapplication_changelist"),
        {"action": "approve_selected", "_selected_action": [futian_applicant.pk]},
        follow=True,
    )

    assert response.status_code == 200
    futian_applicant.refresh_from_db()
    assert futian_applicant.status == ApplicationStatus.APPROVED
    member = Member.objects.get()
    assert member.status == MemberStatus.ACTIVE
    assert member.member_no


def test_reject_action_asks_for_a_reason_first(client, rv_futian, futian_applicant):
    login_staff(client, rv_futian)
    url = reverse("admin:members_membershipapplication_changelist")
    selection = {"action": "reject_selected", "_selected_action": [futian_applicant.pk]}

    first = client.post(url, selection)
    assert first.status_code == 200
    assert "不通过原因" in first.content.decode()
    futian_applicant.refresh_from_db()
    assert futian_applicant.status == ApplicationStatus.PENDING

    client.post(url, {**selection, "apply": "1", "reason": "身份证照片模糊"})

    futian_applicant.refresh_from_db()
    assert futian_applicant.status == ApplicationStatus.REJECTED
    assert futian_applicant.reject_reason == "身份证照片模糊"


def test_out_of_scope_approval_through_a_forged_post_changes_nothing(
    client, rv_nanshan, futian_applicant
):
    login_staff(client, rv_nanshan)

    client.post(
        reverse("admin:members_membershipapplication_changelist"),
        {"action": "approve_selected", "_selected_action": [futian_applicant.pk]},
    )

    futian_applicant.refresh_from_db()
    assert futian_applicant.status == ApplicationStatus.PENDING
    assert not Member.objects.exists()


# --- reveal -------------------------------------------------------------------


@pytest.fixture
def nanshan_member(sz):
    return make_member(
        org=sz["440305_pool"], id_number="440305199003071236", phone="13812340000"
    )


def _reveal(client, member, field="id_number", reason="核对会员身份"):
    url = reverse("admin:members_member_reveal", args=[member.pk])
    return client.post(url, {"field": field, "reason": reason})


def test_reveal_with_permission_shows_value_and_writes_audit_row(
    client, rv_city, nanshan_member
):
    assign_case(rv_city, nanshan_member)
    login_staff(client, rv_city)

    response = _reveal(client, nanshan_member)

    assert response.status_code == 200
    assert "440305199003071236" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    row = AuditLog.objects.get(action="member_reveal")
    assert row.actor == rv_city
    assert row.member == nanshan_member
    assert row.field == "id_number"
    assert row.reason == "核对会员身份"
    assert row.outcome == "success"


def test_reveal_without_permission_is_403_and_logged_as_denied(
    client, rv_nanshan, nanshan_member
):
    login_staff(client, rv_nanshan)

    response = _reveal(client, nanshan_member, field="phone")

    assert response.status_code == 403
    assert "13812340000" not in response.content.decode()
    row = AuditLog.objects.get(action="member_reveal")
    assert row.outcome == "denied"
    assert row.actor == rv_nanshan
    get = client.get(reverse("admin:members_member_reveal", args=[nanshan_member.pk]))
    assert get.status_code == 403


def test_reveal_outside_the_subtree_is_not_found(client, sz, nanshan_member):
    futian_sensitive = make_staff(
        org=sz["440304"], perms=(*REVIEWER_PERMS, "members.view_sensitive")
    )
    assign_case(futian_sensitive, nanshan_member)  # even with an assignment
    login_staff(client, futian_sensitive)

    response = _reveal(client, nanshan_member)

    assert response.status_code == 404
    assert "440305199003071236" not in response.content.decode()
    assert not AuditLog.objects.filter(action="member_reveal").exists()


def test_reveal_needs_a_reason(client, rv_city, nanshan_member):
    assign_case(rv_city, nanshan_member)
    login_staff(client, rv_city)

    response = _reveal(client, nanshan_member, reason="")

    assert response.status_code == 200
    assert "440305199003071236" not in response.content.decode()
    assert not AuditLog.objects.filter(action="member_reveal").exists()


def test_auditor_reads_audit_log_but_reviewer_cannot(client, sz, rv_nanshan):
    auditor = make_staff(org=sz["city"], perms=("members.view_auditlog_all",))
    url = reverse("admin:members_auditlog_changelist")

    login_staff(client, rv_nanshan)
    assert client.get(url).status_code == 403
    login_staff(client, auditor)
    assert client.get(url).status_code == 200
    assert client.get(reverse("admin:members_member_changelist")).status_code == 403


def test_applications_list_hides_drafts(client, rv_nanshan, nanshan_applicant):
    MembershipApplication.objects.filter(pk=nanshan_applicant.pk).update(status="draft")
    login_staff(client, rv_nanshan)

    assert list(_changelist(client).context["cl"].result_list) == []


def test_member_change_page_masks_and_links_reveal_only_with_permission(
    client, rv_city, rv_nanshan, nanshan_member
):
    url = reverse("admin:members_member_change", args=[nanshan_member.pk])
    reveal = reverse("admin:members_member_reveal", args=[nanshan_member.pk])

    login_staff(client, rv_nanshan)
    body = client.get(url).content.decode()
    assert "440305********1236" in body
    assert "440305199003071236" not in body and "13812340000" not in body
    assert reveal not in body

    login_staff(client, rv_city)
    body = client.get(url).content.decode()
    assert reveal not in body  # permitted, but not assigned to the case (AC5)
    assign_case(rv_city, nanshan_member)
    body = client.get(url).content.decode()
    assert reveal in body
    assert "440305199003071236" not in body
    assert not AuditLog.objects.exclude(action="login").exists()  # the two logins
