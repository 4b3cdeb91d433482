"""Seeded Shenzhen tree and GB/T 2260 table; org admin credit-code checks."""

from datetime import date

import pytest
from django.urls import reverse

from members.models import RegionCode, UnionOrg
from members.reference_data import seed_all
from members.selectors.joining import (
    default_org_for_residence,
    region_code_warnings,
    region_name,
)
from tests.factories import login_staff

pytestmark = pytest.mark.django_db

DISTRICTS = {
    "440303": "罗湖区总工会",
    "440304": "福田区总工会",
    "440305": "南山区总工会",
    "440306": "宝安区总工会",
    "440307": "龙岗区总工会",
    "440308": "盐田区总工会",
    "440309": "龙华区总工会",
    "440310": "坪山区总工会",
    "440311": "光明区总工会",
}


def test_seed_builds_the_shenzhen_tree_and_is_idempotent(sz):
    before = UnionOrg.objects.count()
    seed_all()
    seed_all()

    assert UnionOrg.objects.count() == before
    city = sz["city"]
    assert city.parent.name == "广东省总工会"
    assert city.parent.parent.name == "中华全国总工会"
    for code, name in DISTRICTS.items():
        district = UnionOrg.objects.get(name=name, parent=city)
        assert district.region_code == code
        assert district.level == "district"
        pool = UnionOrg.objects.get(parent=district, is_gig_pool=True)
        assert pool.kind == "alliance"
        assert pool.path.startswith(district.path)
    city_pool = UnionOrg.objects.get(name="深圳市新业态劳动者联合工会")
    assert city_pool.is_gig_pool and city_pool.region_code == "440300"


def test_default_org_follows_the_residence_district(sz):
    assert default_org_for_residence(county_code="440307") == sz["440307_pool"]
    assert default_org_for_residence(county_code="440399") == sz["city_pool"]
    assert default_org_for_residence(county_code="110105") is None


def test_region_table_names_and_warnings(sz):
    today = date(2026, 11, 23)
    assert region_name(code="440305") == "南山区"
    assert region_name(code="440524") == "潮阳县"
    assert region_name(code="440524", on=today) == ""
    assert region_code_warnings(code="440305", today=today) == []
    assert region_code_warnings(code="440524", today=today) == [
        "行政区划代码 440524 已停用。"
    ]
    assert region_code_warnings(code="440312", today=today) == [
        "行政区划代码 440312 不在代码表中,请核对。"
    ]
    assert (
        RegionCode.objects.filter(code__in=["710000", "810000", "820000"]).count() == 3
    )


def test_org_admin_refuses_bad_credit_code_and_warns_on_soft_rules(
    client, admin_user, sz
):
    admin_client = client
    login_staff(client, admin_user)
    url = reverse("admin:members_unionorg_add")
    data = {
        "name": "某某快递公司工会",
        "level": "grassroots",
        "kind": "grassroots",
        "parent": sz["440305"].pk,
        "region_code": "440312",
        "credit_code": "81440300MA5F12342Q",
        "is_active": "on",
    }

    bad = admin_client.post(url, data)
    assert bad.status_code == 200
    assert "统一社会信用代码校验位不正确。" in bad.content.decode()
    assert not UnionOrg.objects.filter(name="某某快递公司工会").exists()

    ok = admin_client.post(
        url, {**data, "credit_code": "91440300MA5F3K2L57"}, follow=True
    )

    org = UnionOrg.objects.get(name="某某快递公司工会")
    assert org.path == f"{sz['440305'].path}{org.pk}/"
    body = ok.content.decode()
    assert "基层工会的统一社会信用代码通常以81开头。" in body
    assert "行政区划代码 440312 不在代码表中,请核对。" in body
