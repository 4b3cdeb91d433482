"""Reference data: the Shenzhen union tree and a small GB/T 2260 code table.

Plain functions that take the model classes, so a data migration can call them with
historical models (`apps.get_model`) and `seed_demo`/tests with the real ones. Both
are idempotent: running them again changes nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

# GB/T 2260 provinces (2-digit prefixes padded to 6) ------------------------------
PROVINCES: list[tuple[str, str]] = [
    ("110000", "北京市"),
    ("120000", "天津市"),
    ("130000", "河北省"),
    ("140000", "山西省"),
    ("150000", "内蒙古自治区"),
    ("210000", "辽宁省"),
    ("220000", "吉林省"),
    ("230000", "黑龙江省"),
    ("310000", "上海市"),
    ("320000", "江苏省"),
    ("330000", "浙江省"),
    ("340000", "安徽省"),
    ("350000", "福建省"),
    ("360000", "江西省"),
    ("370000", "山东省"),
    ("410000", "河南省"),
    ("420000", "湖北省"),
    ("430000", "湖南省"),
    ("440000", "广东省"),
    ("450000", "广西壮族自治区"),
    ("460000", "海南省"),
    ("500000", "重庆市"),
    ("510000", "四川省"),
    ("520000", "贵州省"),
    ("530000", "云南省"),
    ("540000", "西藏自治区"),
    ("610000", "陕西省"),
    ("620000", "甘肃省"),
    ("630000", "青海省"),
    ("640000", "宁夏回族自治区"),
    ("650000", "新疆维吾尔自治区"),
    ("710000", "台湾省"),
    ("810000", "香港特别行政区"),
    ("820000", "澳门特别行政区"),
]

# Guangdong prefecture-level cities.
GUANGDONG_CITIES: list[tuple[str, str]] = [
    ("440100", "广州市"),
    ("440200", "韶关市"),
    ("440300", "深圳市"),
    ("440400", "珠海市"),
    ("440500", "汕头市"),
    ("440600", "佛山市"),
    ("440700", "江门市"),
    ("440800", "湛江市"),
    ("440900", "茂名市"),
    ("441200", "肇庆市"),
    ("441300", "惠州市"),
    ("441400", "梅州市"),
    ("441500", "汕尾市"),
    ("441600", "河源市"),
    ("441700", "阳江市"),
    ("441800", "清远市"),
    ("441900", "东莞市"),
    ("442000", "中山市"),
    ("445100", "潮州市"),
    ("445200", "揭阳市"),
    ("445300", "云浮市"),
]

# Shenzhen districts (domain.md §7). 大鹏新区 and 深汕合作区 have no code of their own.
SHENZHEN_DISTRICTS: list[tuple[str, str, str]] = [
    ("440303", "罗湖区", "罗湖"),
    ("440304", "福田区", "福田"),
    ("440305", "南山区", "南山"),
    ("440306", "宝安区", "宝安"),
    ("440307", "龙岗区", "龙岗"),
    ("440308", "盐田区", "盐田"),
    ("440309", "龙华区", "龙华"),
    ("440310", "坪山区", "坪山"),
    ("440311", "光明区", "光明"),
]

# Retired codes kept so old ID numbers still show a place name (BR-V2).
RETIRED: list[tuple[str, str, date, date]] = [
    ("440524", "潮阳县", date(1980, 1, 1), date(1993, 4, 1)),
]

DEFAULT_VALID_FROM = date(1980, 1, 1)


def seed_region_codes(*, RegionCode: Any) -> int:  # noqa: N803 - a model class
    """Insert the code table rows that are missing; returns how many were added."""
    rows = [(c, n, DEFAULT_VALID_FROM, None) for c, n in PROVINCES + GUANGDONG_CITIES]
    rows += [(c, n, DEFAULT_VALID_FROM, None) for c, n, _ in SHENZHEN_DISTRICTS]
    rows += RETIRED
    added = 0
    for code, name, valid_from, valid_to in rows:
        _, created = RegionCode.objects.get_or_create(
            code=code,
            valid_from=valid_from,
            defaults={"name": name, "valid_to": valid_to},
        )
        added += int(created)
    return added


def _org(
    UnionOrg: Any,  # noqa: N803
    *,
    name: str,
    level: str,
    kind: str,
    region_code: str,
    parent: Any = None,
    is_gig_pool: bool = False,
) -> Any:
    """get-or-create by (name, parent); sets the materialised path like
    members.actions.orgs.union_org_create does."""
    org = UnionOrg.objects.filter(name=name, parent=parent).first()
    if org is not None:
        return org
    org = UnionOrg.objects.create(
        name=name,
        level=level,
        kind=kind,
        region_code=region_code,
        parent=parent,
        is_gig_pool=is_gig_pool,
    )
    org.path = f"{parent.path if parent else '/'}{org.pk}/"
    org.save(update_fields=["path"])
    return org


def seed_union_tree(*, UnionOrg: Any) -> dict[str, Any]:  # noqa: N803
    """ACFTU → 广东省总工会 → 深圳市总工会 → nine district federations, and the
    gig-worker holding pools (one per district plus one city-level)."""
    root = _org(
        UnionOrg,
        name="中华全国总工会",
        level="national",
        kind="federation",
        region_code="100000",
    )
    province = _org(
        UnionOrg,
        name="广东省总工会",
        level="provincial",
        kind="federation",
        region_code="440000",
        parent=root,
    )
    city = _org(
        UnionOrg,
        name="深圳市总工会",
        level="city",
        kind="federation",
        region_code="440300",
        parent=province,
    )
    orgs = {"root": root, "province": province, "city": city}
    orgs["city_pool"] = _org(
        UnionOrg,
        name="深圳市新业态劳动者联合工会",
        level="city",
        kind="alliance",
        region_code="440300",
        parent=city,
        is_gig_pool=True,
    )
    for code, district, short in SHENZHEN_DISTRICTS:
        federation = _org(
            UnionOrg,
            name=f"{district}总工会",
            level="district",
            kind="federation",
            region_code=code,
            parent=city,
        )
        orgs[code] = federation
        orgs[f"{code}_pool"] = _org(
            UnionOrg,
            name=f"{short}区新业态联合工会",
            level="district",
            kind="alliance",
            region_code=code,
            parent=federation,
            is_gig_pool=True,
        )
    return orgs


def seed_all(*, apps: Any = None) -> None:
    """Entry point for the data migration (historical models) and for tests."""
    if apps is None:
        from members.models import RegionCode, UnionOrg
    else:
        RegionCode = apps.get_model("members", "RegionCode")  # noqa: N806
        UnionOrg = apps.get_model("members", "UnionOrg")  # noqa: N806
    seed_region_codes(RegionCode=RegionCode)
    seed_union_tree(UnionOrg=UnionOrg)
