"""Case assignment (security.md AC5): a full-value reveal needs
`members.view_sensitive` **and** an active assignment to the member's case;
assignments are made by a supervisor with `members.assign_case`, within the
supervisor's subtree, never to themself (superusers excepted), and audited."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.urls import reverse

from members.actions.cases import case_assign, case_unassign
from members.models import AuditLog, CaseAssignment
from portal.exceptions import ApplicationError, ConflictError
from tests.factories import assign_case, login_staff, make_member, make_staff
from tests.members.factories import REVIEWER_PERMS

pytestmark = pytest.mark.django_db

MEMBER_ID = "440305199003071236"
MEMBERS_URL = reverse("admin:members_member_changelist")
ASSIGNMENTS_URL = reverse("admin:members_caseassignment_changelist")


@pytest.fixture
def nanshan_member(sz):
    return make_member(org=sz["440305_pool"], id_number=MEMBER_ID, phone="13812340000")


@pytest.fixture
def supervisor(sz):
    """The city union's supervisor: assigns cases, reveals nothing itself."""
    return make_staff(
        org=sz["city"],
        perms=("members.view_member", "members.assign_case"),
        username="sup_city",
    )


@pytest.fixture
def rv_sensitive(sz):
    """A Nanshan reviewer allowed to see full values of assigned cases."""
    return make_staff(
        org=sz["440305"],
        perms=(*REVIEWER_PERMS, "members.view_sensitive"),
        username="rv_sensitive",
    )


def _reveal(client, member, field="id_number", reason="核对会员身份"):
    url = reverse("admin:members_member_reveal", args=[member.pk])
    return client.post(url, {"field": field, "reason": reason})


def _assign_via_admin(client, members, staff, reason="复核材料"):
    return client.post(
        MEMBERS_URL,
        {
            "action": "assign_case",
            ACTION_CHECKBOX_NAME: [m.pk for m in members],
            "apply": "1",
            "staff": staff.pk,
            "reason": reason,
        },
    )


def _action_names(changelist) -> list[str]:
    form = changelist.context["action_form"]  # None when no action is offered
    return [name for name, _ in form.fields["action"].choices] if form else []


def _reveal_rows():
    return list(AuditLog.objects.filter(action="member_reveal").order_by("id"))


# --- reveal needs an assignment ------------------------------------------------------


def test_unassigned_reviewer_with_view_sensitive_gets_403_and_a_denied_row(
    client, rv_sensitive, nanshan_member
):
    login_staff(client, rv_sensitive)

    response = _reveal(client, nanshan_member)

    assert response.status_code == 403
    assert MEMBER_ID not in response.content.decode()
    [row] = _reveal_rows()
    assert row.outcome == AuditLog.Outcome.DENIED
    assert row.actor == rv_sensitive and row.member == nanshan_member
    assert row.detail == {"reason": "not_assigned"}
    url = reverse("admin:members_member_reveal", args=[nanshan_member.pk])
    assert client.get(url).status_code == 403


def test_assigned_by_a_supervisor_the_reveal_is_200_with_a_success_row(
    client, supervisor, rv_sensitive, nanshan_member
):
    login_staff(client, supervisor)
    response = _assign_via_admin(client, [nanshan_member], rv_sensitive)
    assert response.status_code == 302

    assignment = CaseAssignment.objects.get()
    assert (assignment.staff, assignment.member) == (rv_sensitive, nanshan_member)
    assert assignment.assigned_by == supervisor and assignment.ended_at is None
    assert assignment.reason == "复核材料"
    row = AuditLog.objects.get(action="case_assign")
    assert row.actor == supervisor and row.member == nanshan_member
    assert row.object_id == str(assignment.pk)
    assert row.detail == {"staff_id": rv_sensitive.pk}
    assert not AuditLog.objects.filter(action="admin_action").exists()

    login_staff(client, rv_sensitive)
    response = _reveal(client, nanshan_member)

    assert response.status_code == 200
    assert MEMBER_ID in response.content.decode()
    [row] = _reveal_rows()
    assert row.outcome == AuditLog.Outcome.SUCCESS
    assert row.actor == rv_sensitive and row.reason == "核对会员身份"
    assert row.detail == {}


def test_after_the_assignment_ends_the_reveal_is_403_again(
    client, supervisor, rv_sensitive, nanshan_member
):
    assignment = assign_case(rv_sensitive, nanshan_member, assigned_by=supervisor)
    login_staff(client, supervisor)
    page = client.post(
        ASSIGNMENTS_URL,
        {"action": "end_selected", ACTION_CHECKBOX_NAME: [assignment.pk]},
    )
    assert page.status_code == 200  # the reason step first
    assert CaseAssignment.objects.get().ended_at is None

    response = client.post(
        ASSIGNMENTS_URL,
        {
            "action": "end_selected",
            ACTION_CHECKBOX_NAME: [assignment.pk],
            "apply": "1",
            "reason": "复核完成",
        },
    )

    assert response.status_code == 302
    assignment.refresh_from_db()
    assert assignment.ended_at is not None and assignment.ended_by == supervisor
    row = AuditLog.objects.get(action="case_unassign")
    assert row.actor == supervisor and row.reason == "复核完成"
    assert row.member == nanshan_member
    login_staff(client, rv_sensitive)
    assert _reveal(client, nanshan_member).status_code == 403
    assert _reveal_rows()[-1].detail == {"reason": "not_assigned"}
    # the ended row stays; a new assignment of the same pair is allowed again
    assign_case(rv_sensitive, nanshan_member)
    assert CaseAssignment.objects.count() == 2
    assert _reveal(client, nanshan_member).status_code == 200


def test_an_assignment_does_not_replace_view_sensitive(
    client, rv_nanshan, nanshan_member
):
    assign_case(rv_nanshan, nanshan_member)
    login_staff(client, rv_nanshan)

    assert _reveal(client, nanshan_member).status_code == 403
    assert _reveal_rows()[0].outcome == AuditLog.Outcome.DENIED


def test_a_superuser_needs_an_assignment_too_and_may_assign_itself(
    client, sz, nanshan_member
):
    admin_user = make_staff(org=sz["city"], is_superuser=True)
    login_staff(client, admin_user)
    assert _reveal(client, nanshan_member).status_code == 403

    response = _assign_via_admin(client, [nanshan_member], admin_user)

    assert response.status_code == 302
    assert CaseAssignment.objects.get().staff == admin_user
    assert _reveal(client, nanshan_member).status_code == 200


# --- who may assign whom ---------------------------------------------------------


def test_self_assignment_is_refused(sz, nanshan_member):
    lead = make_staff(
        org=sz["440305"],
        perms=("members.view_member", "members.view_sensitive", "members.assign_case"),
    )

    with pytest.raises(ApplicationError) as exc:
        case_assign(actor=lead, staff=lead, member=nanshan_member)

    assert exc.value.code == "self_assignment"
    assert not CaseAssignment.objects.exists()
    assert not AuditLog.objects.filter(action="case_assign").exists()


def test_self_assignment_is_not_offered_and_a_forged_post_changes_nothing(
    client, sz, rv_sensitive, nanshan_member
):
    lead = make_staff(
        org=sz["440305"],
        perms=("members.view_member", "members.view_sensitive", "members.assign_case"),
        username="lead_nanshan",
    )
    login_staff(client, lead)
    selection = {"action": "assign_case", ACTION_CHECKBOX_NAME: [nanshan_member.pk]}
    page = client.post(MEMBERS_URL, selection)
    choices = [c.instance for c, _ in page.context["form"].fields["staff"].choices if c]
    assert choices == [rv_sensitive]

    response = _assign_via_admin(client, [nanshan_member], lead)

    assert response.status_code == 200  # the form again, with an error
    assert page.context["form"].fields["staff"].queryset.filter(pk=lead.pk).count() == 0
    assert response.context["form"].errors["staff"]
    assert not CaseAssignment.objects.exists()


def test_staff_outside_the_actors_subtree_cannot_be_assigned(
    client, sz, rv_sensitive, nanshan_member
):
    futian_lead = make_staff(
        org=sz["440304"], perms=("members.view_member", "members.assign_case")
    )
    futian_member = make_member(org=sz["440304_pool"])

    with pytest.raises(ApplicationError) as exc:
        case_assign(actor=futian_lead, staff=rv_sensitive, member=futian_member)
    assert exc.value.code == "staff_not_assignable"
    # nor a member outside the actor's subtree
    futian_rv = make_staff(org=sz["440304"], perms=("members.view_sensitive",))
    with pytest.raises(ApplicationError) as exc:
        case_assign(actor=futian_lead, staff=futian_rv, member=nanshan_member)
    assert exc.value.code == "out_of_scope"
    # over HTTP the staff choice is invalid and the member is not even listed
    login_staff(client, futian_lead)
    response = _assign_via_admin(client, [futian_member], rv_sensitive)
    assert response.status_code == 200 and response.context["form"].errors["staff"]
    _assign_via_admin(client, [nanshan_member], futian_rv)
    assert not CaseAssignment.objects.exists()


def test_the_member_must_be_in_the_assignees_subtree(sz, supervisor, nanshan_member):
    futian_rv = make_staff(org=sz["440304"], perms=("members.view_sensitive",))

    with pytest.raises(ApplicationError) as exc:
        case_assign(actor=supervisor, staff=futian_rv, member=nanshan_member)

    assert exc.value.code == "member_out_of_scope"
    assert not CaseAssignment.objects.exists()


def test_staff_without_view_sensitive_cannot_be_assigned(
    supervisor, rv_nanshan, nanshan_member
):
    with pytest.raises(ApplicationError) as exc:
        case_assign(actor=supervisor, staff=rv_nanshan, member=nanshan_member)

    assert exc.value.code == "staff_not_assignable"


def test_without_assign_case_there_is_no_action(
    client, rv_city, rv_sensitive, nanshan_member
):
    login_staff(client, rv_city)
    page = client.get(MEMBERS_URL)
    actions = _action_names(page)
    assert "assign_case" not in actions

    _assign_via_admin(client, [nanshan_member], rv_sensitive)

    assert not CaseAssignment.objects.exists()
    assert client.get(ASSIGNMENTS_URL).status_code == 403
    with pytest.raises(PermissionDenied):
        case_assign(actor=rv_city, staff=rv_sensitive, member=nanshan_member)
    assignment = assign_case(rv_sensitive, nanshan_member)
    with pytest.raises(PermissionDenied):
        case_unassign(actor=rv_city, assignment_id=assignment.pk)
    assert CaseAssignment.objects.get().ended_at is None


def test_with_assign_case_the_action_is_offered(client, supervisor):
    login_staff(client, supervisor)
    page = client.get(MEMBERS_URL)
    actions = _action_names(page)
    assert "assign_case" in actions


# --- one active assignment per pair: a database constraint ------------------------


def test_a_second_active_assignment_is_a_constraint_not_a_python_check(
    supervisor, rv_sensitive, nanshan_member
):
    assign_case(rv_sensitive, nanshan_member)

    with pytest.raises(IntegrityError), transaction.atomic():
        CaseAssignment.objects.create(staff=rv_sensitive, member=nanshan_member)
    with pytest.raises(ConflictError) as exc:
        case_assign(actor=supervisor, staff=rv_sensitive, member=nanshan_member)

    assert exc.value.code == "already_assigned"
    assert CaseAssignment.objects.count() == 1
    assert not AuditLog.objects.filter(action="case_assign").exists()


def test_assigning_twice_over_http_gives_a_message_not_a_500(
    client, supervisor, rv_sensitive, nanshan_member
):
    login_staff(client, supervisor)
    assert _assign_via_admin(client, [nanshan_member], rv_sensitive).status_code == 302

    response = _assign_via_admin(client, [nanshan_member], rv_sensitive)

    assert response.status_code == 302
    assert CaseAssignment.objects.count() == 1
    messages = [str(m) for m in client.get(MEMBERS_URL).context["messages"]]
    assert any("已被分配" in m for m in messages), messages


def test_ending_an_ended_assignment_is_a_conflict(
    supervisor, rv_sensitive, nanshan_member
):
    assignment = assign_case(rv_sensitive, nanshan_member)
    case_unassign(actor=supervisor, assignment_id=assignment.pk, reason="完成")

    with pytest.raises(ConflictError):
        case_unassign(actor=supervisor, assignment_id=assignment.pk)

    assert AuditLog.objects.filter(action="case_unassign").count() == 1


def test_an_id_number_typed_in_the_reason_is_masked(
    supervisor, rv_sensitive, nanshan_member
):
    assignment = case_assign(
        actor=supervisor,
        staff=rv_sensitive,
        member=nanshan_member,
        reason=f"核对 {MEMBER_ID}",
    )

    assert MEMBER_ID not in assignment.reason
    assert MEMBER_ID not in AuditLog.objects.get(action="case_assign").reason


def test_assignments_list_is_scoped_to_the_subtree(
    client, sz, supervisor, rv_sensitive, nanshan_member
):
    assign_case(rv_sensitive, nanshan_member)
    futian_lead = make_staff(
        org=sz["440304"], perms=("members.view_member", "members.assign_case")
    )

    login_staff(client, supervisor)
    assert len(client.get(ASSIGNMENTS_URL).context["cl"].result_list) == 1
    login_staff(client, futian_lead)
    assert len(client.get(ASSIGNMENTS_URL).context["cl"].result_list) == 0


# --- demo data ------------------------------------------------------------------------


def test_the_demo_city_reviewer_is_assigned_to_the_demo_member_once(client):
    import io

    from members import demo as members_demo
    from members.models import Member, User

    members_demo.seed(stdout=io.StringIO())
    members_demo.seed(stdout=io.StringIO())  # idempotent

    reviewer = User.objects.get(username="reviewer_city")
    member = Member.objects.get(user__phone_hmac__isnull=False, status="active")
    assignment = CaseAssignment.objects.get()
    assert (assignment.staff, assignment.member) == (reviewer, member)
    assert assignment.assigned_by.username == "demo_admin"
    login_staff(client, reviewer)
    assert _reveal(client, member).status_code == 200
