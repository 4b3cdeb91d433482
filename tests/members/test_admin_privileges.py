"""Staff cannot reach past their union subtree through a form's choices, and
`change_user` is not a way to become (or make) a superuser (security.md AC4)."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site
from django.contrib.auth.models import Group, Permission
from django.test import RequestFactory

from members.models import Member, UnionOrg, User
from tests.factories import login_staff, make_member, make_staff

pytestmark = pytest.mark.django_db

USER_PERMS = ("members.view_user", "members.change_user")
MEMBER_PERMS = ("members.view_member", "members.change_member")


def _perm(codename: str) -> Permission:
    return Permission.objects.get(content_type__app_label="members", codename=codename)


def admin_form(model, user, obj=None):
    request = RequestFactory().get("/admin/")
    request.user = user
    model_admin = site._registry[model]
    return model_admin, model_admin.get_form(request, obj)


def test_member_cannot_be_moved_to_a_union_outside_the_staff_subtree(
    client, nanshan, nanshan_gig_pool, futian
):
    member = make_member(org=nanshan_gig_pool)
    staff = make_staff(org=nanshan, perms=MEMBER_PERMS)
    login_staff(client, staff)
    url = f"/admin/members/member/{member.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {
        name: form[name].value() if form[name].value() is not None else ""
        for name in form.fields
    }

    response = client.post(url, {**data, "org": futian.pk})

    assert response.status_code == 200  # the form again, with an error on org
    assert "org" in response.context["adminform"].form.errors
    member.refresh_from_db()
    assert member.org == nanshan_gig_pool
    # within the subtree the same move works
    response = client.post(url, {**data, "org": nanshan.pk})
    assert response.status_code == 302
    assert Member.objects.get(pk=member.pk).org == nanshan


def test_org_choices_in_user_and_org_forms_are_the_staff_subtree(
    nanshan, nanshan_gig_pool, futian, shenzhen
):
    staff = make_staff(org=nanshan, perms=(*USER_PERMS, "members.add_unionorg"))
    colleague = make_staff(org=nanshan_gig_pool)

    _, user_form = admin_form(User, staff, colleague)
    _, org_form = admin_form(UnionOrg, staff)

    expected = {nanshan, nanshan_gig_pool}
    assert set(user_form.base_fields["org"].queryset) == expected
    assert set(org_form.base_fields["parent"].queryset) == expected
    assert futian not in user_form.base_fields["org"].queryset
    assert shenzhen not in org_form.base_fields["parent"].queryset


def test_a_superuser_still_picks_any_union(nanshan, futian):
    boss = make_staff(org=None, is_superuser=True)

    _, form = admin_form(User, boss, make_staff(org=nanshan))

    assert futian in form.base_fields["org"].queryset


def test_staff_with_change_user_cannot_grant_superuser_or_permissions(nanshan):
    staff = make_staff(org=nanshan, perms=USER_PERMS)
    colleague = make_staff(org=nanshan)

    model_admin, form = admin_form(User, staff, colleague)

    assert "is_superuser" not in form.base_fields
    assert "user_permissions" not in form.base_fields
    assert "is_staff" in form.base_fields  # they may still manage their staff


def test_staff_cannot_change_their_own_privileges_or_union(nanshan):
    staff = make_staff(org=nanshan, perms=USER_PERMS)

    _, form = admin_form(User, staff, staff)

    for name in ("is_superuser", "user_permissions", "is_staff", "groups", "org"):
        assert name not in form.base_fields, name


def test_only_groups_within_the_staff_users_own_permissions_can_be_given(nanshan):
    staff = make_staff(org=nanshan, perms=(*USER_PERMS, "members.view_member"))
    viewers = Group.objects.create(name="查看会员")
    viewers.permissions.add(
        Permission.objects.get(
            content_type__app_label="members", codename="view_member"
        )
    )
    powerful = Group.objects.create(name="系统管理")
    powerful.permissions.add(
        Permission.objects.get(
            content_type__app_label="members", codename="delete_user"
        )
    )

    _, form = admin_form(User, staff, make_staff(org=nanshan))

    assert set(form.base_fields["groups"].queryset) == {viewers}


def test_superuser_accounts_are_out_of_reach_of_other_staff(client, nanshan):
    boss = make_staff(org=nanshan, is_superuser=True)
    staff = make_staff(org=nanshan, perms=USER_PERMS)
    login_staff(client, staff)

    listing = client.get("/admin/members/user/")
    change = client.get(f"/admin/members/user/{boss.pk}/change/")
    password = client.get(f"/admin/members/user/{boss.pk}/password/")

    assert boss not in listing.context["cl"].queryset
    assert change.status_code == 302  # "not found" back to the list
    assert password.status_code == 404
