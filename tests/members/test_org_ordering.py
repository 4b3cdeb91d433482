"""Union organisations list as the tree, by geography, wherever they are
listed: admin list, foreign-key choices, the join form (not by id, nor by the
path's ids compared as text)."""

import pytest

from members.models import UnionOrg
from tests.factories import login_staff, make_user

pytestmark = pytest.mark.django_db


def _org(pk: int, name: str, region: str, parent: UnionOrg | None) -> UnionOrg:
    # Explicit ids: 99,998 and 100,001 have different digit counts, so their
    # paths compare the wrong way round as text.
    path = f"{parent.path if parent else '/'}{pk}/"
    return UnionOrg.objects.create(
        pk=pk,
        name=name,
        level="national" if parent is None else "district",
        kind="federation",
        region_code=region,
        parent=parent,
        path=path,
    )


@pytest.fixture
def tree():
    root = _org(99_990, "全国", "100000", None)
    futian = _org(100_001, "福田区总工会", "440304", root)
    luohu = _org(99_998, "罗湖区总工会", "440303", root)
    pool = _org(100_002, "罗湖区新业态联合工会", "440303", luohu)
    company = _org(99_999, "罗湖区A公司工会", "440303", luohu)
    return [root, luohu, company, pool, futian]


def _only(orgs, tree) -> list:
    """The tree's orgs in the order given (the reference data is there too)."""
    ids = {org.pk for org in tree}
    return [org for org in orgs if org.pk in ids]


def test_default_order_is_region_then_parent_then_name(tree):
    assert _only(UnionOrg.objects.all(), tree) == tree


def test_admin_list_and_parent_choices_follow_it(client, tree):
    root = make_user(username="root", is_staff=True, is_superuser=True)
    login_staff(client, root)

    listing = client.get("/admin/members/unionorg/", {"all": ""})
    user_form = client.get(f"/admin/members/user/{root.pk}/change/")

    assert _only(listing.context["cl"].result_list, tree) == tree
    org_field = user_form.context["adminform"].form.fields["org"]
    assert _only(org_field.queryset, tree) == tree
