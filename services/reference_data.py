"""Reference data: the four 深工守护 programs (domain.md §2, BR-P1/P2/P4).

Called by a data migration (services/migrations/0003_seed_shengong_programs.py)
and safe to call again: programs are keyed by code and left alone once they exist,
so staff edits in the admin survive. Facts the sources do not give (hospital-day
maximum, age limits other than 家政守护's, platform tenure) are configurable
defaults, stated in the admin help text and in DEFAULT_* below.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

SHENZHEN_FEDERATION = "深圳市总工会"
SHENZHEN_PREFIX = "4403"
SERIES_START = date(2021, 1, 1)
# Not published for E路守护: configurable defaults (admin help text says so).
DEFAULT_HOSPITAL_MAX_DAYS = 30
DEFAULT_MIN_TENURE_MONTHS = 3

E_ROAD_OCCUPATIONS = ["courier", "food_delivery", "ride_hailing", "freight"]

PROGRAMS = [
    {
        "code": "e_road",
        "name": "E路守护",
        "description": (
            "深圳市总工会为全市快递员、外卖送餐员、网约车司机和网约货车司机提供的"
            "免费互助保障,无记名参保:符合条件即受保障,申请时再核验身份和职业。"
            "患重大疾病可获一次性救助,住院可按天领取补助。"
        ),
        "mode": "anonymous",
        "occupations": E_ROAD_OCCUPATIONS,
        "tenure_months": DEFAULT_MIN_TENURE_MONTHS,
        "benefits": [
            {
                "name": "重大疾病救助",
                "kind": "lump_sum",
                "amount": Decimal("30000.00"),
            },
            {
                "name": "住院津贴",
                "kind": "per_day",
                "daily_rate": Decimal("200.00"),
                "max_days": DEFAULT_HOSPITAL_MAX_DAYS,
            },
        ],
    },
    {
        "code": "domestic",
        "name": "家政守护",
        "description": (
            "为在深圳从事家政服务的劳动者提供的免费互助保障。本人报名参加,"
            "保障期内遇到疾病或意外可以申请互助金。"
        ),
        "mode": "named",
        "occupations": ["domestic"],
        "age": (18, 60),
    },
    {
        "code": "construction",
        "name": "建工守护",
        "description": (
            "为在深圳工作的建筑工人提供的免费互助保障。本人报名参加,"
            "保障期内遇到疾病或意外可以申请互助金。"
        ),
        "mode": "named",
        "occupations": ["construction"],
    },
    {
        "code": "sanitation",
        "name": "环卫守护",
        "description": (
            "为在深圳工作的环卫工人提供的免费互助保障。本人报名参加,"
            "保障期内遇到疾病或意外可以申请互助金。"
        ),
        "mode": "named",
        "occupations": ["sanitation"],
    },
]


def shenzhen_federation(*, union_org_model, create=None):
    """Find 深圳市总工会 by name; create it (and a national root if none exists)
    through `create` (members.actions.orgs.union_org_create) when absent, so the
    seed works whether or not the members org-tree seed ran first."""
    org = union_org_model.objects.filter(name=SHENZHEN_FEDERATION).first()
    if org is not None:
        return org
    if create is None:
        from members.actions.orgs import union_org_create as create
    root = union_org_model.objects.filter(level="national").order_by("id").first()
    if root is None:
        root = create(
            name="中华全国总工会",
            level="national",
            kind="federation",
            region_code="100000",
        )
    province = union_org_model.objects.filter(name="广东省总工会").first()
    if province is None:
        province = create(
            name="广东省总工会",
            level="provincial",
            kind="federation",
            region_code="440000",
            parent=root,
        )
    return create(
        name=SHENZHEN_FEDERATION,
        level="city",
        kind="federation",
        region_code="440300",
        parent=province,
    )


def seed_shengong_programs(
    *, program_model, rule_model, benefit_model, union_org_model, create=None
) -> list:
    """Create the four programs with their rules and benefit items if absent.
    Models are passed in so a migration can use its historical models."""
    sponsor = shenzhen_federation(union_org_model=union_org_model, create=create)
    created = []
    for spec in PROGRAMS:
        if program_model.objects.filter(code=spec["code"]).exists():
            continue
        program = program_model.objects.create(
            code=spec["code"],
            name=spec["name"],
            description=spec["description"],
            sponsor_org_id=sponsor.pk,
            region_prefix=SHENZHEN_PREFIX,
            enrollment_mode=spec["mode"],
            starts_on=SERIES_START,
            period_rule="calendar_year",
        )
        rules = [
            rule_model(
                program=program,
                kind="region_prefix",
                region_prefix=SHENZHEN_PREFIX,
                effective_from=SERIES_START,
            ),
            rule_model(
                program=program,
                kind="occupation_in",
                occupations=spec["occupations"],
                effective_from=SERIES_START,
            ),
        ]
        if "age" in spec:
            low, high = spec["age"]
            rules.append(
                rule_model(
                    program=program,
                    kind="age_between",
                    min_value=low,
                    max_value=high,
                    effective_from=SERIES_START,
                )
            )
        if "tenure_months" in spec:
            rules.append(
                rule_model(
                    program=program,
                    kind="min_tenure_months",
                    min_value=spec["tenure_months"],
                    effective_from=SERIES_START,
                    note="默认配置:来源未公开在平台月数要求。",
                )
            )
        rule_model.objects.bulk_create(rules)
        benefit_model.objects.bulk_create(
            [
                benefit_model(program=program, **item)
                for item in spec.get("benefits", [])
            ]
        )
        created.append(program)
    return created
