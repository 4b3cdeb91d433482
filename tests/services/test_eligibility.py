"""The seeded programs' rules with people just inside and just outside each bound;
reasons in Chinese; both evaluation paths give the same answer for each case."""

from __future__ import annotations

from datetime import date

import pytest

from members.models import MemberStatus, Occupation
from services.models import EligibilityRule, RuleKind
from services.selectors.eligibility import (
    REASON_MEMBERSHIP,
    REASON_NOT_RUNNING,
    REASON_OCCUPATION,
    REASON_OFFBOARDED,
    REASON_REGION,
    EligibilityFacts,
    PlatformTenure,
    eligibility_reasons,
    eligibility_unverified,
    program_failures,
)
from tests.services.conftest import ON, make_person

pytestmark = pytest.mark.django_db

AGE_18_60 = "年龄不在18–60岁之间"
TENURE_3 = "在平台工作未满3个月"


def both_paths(program, member, on=ON) -> list[str]:
    """Reasons from path (a); asserts path (b) says exactly the same."""
    one = eligibility_reasons(program=program, member=member, on=on)
    many = program_failures(program=program, on=on, member_ids=[member.pk])
    assert sorted(many.get(member.pk, [])) == sorted(one)
    return one


# --- E路守护 -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "occupation",
    [
        Occupation.COURIER,
        Occupation.FOOD_DELIVERY,
        Occupation.RIDE_HAILING,
        Occupation.FREIGHT,
    ],
)
def test_e_road_covers_its_four_occupations(programs, occupation):
    rider = make_person(occupation=occupation, joined_platform_on=date(2025, 1, 1))

    assert both_paths(programs["e_road"], rider) == []


@pytest.mark.parametrize(
    "occupation", [Occupation.DOMESTIC, Occupation.CONSTRUCTION, Occupation.OTHER]
)
def test_e_road_refuses_other_occupations(programs, occupation):
    worker = make_person(occupation=occupation, joined_platform_on=date(2025, 1, 1))

    assert both_paths(programs["e_road"], worker) == [REASON_OCCUPATION]


def test_e_road_tenure_of_exactly_three_months_qualifies(programs):
    rider = make_person(joined_platform_on=date(2026, 3, 15))

    assert both_paths(programs["e_road"], rider) == []


def test_e_road_tenure_one_day_short_of_three_months_does_not(programs):
    rider = make_person(joined_platform_on=date(2026, 3, 16))

    assert both_paths(programs["e_road"], rider) == [TENURE_3]


def test_e_road_without_any_platform_account_fails_tenure(programs):
    rider = make_person()

    assert both_paths(programs["e_road"], rider) == [TENURE_3]


def test_e_road_rider_offboarded_today_is_no_longer_covered(programs):
    rider = make_person(joined_platform_on=date(2025, 1, 1), offboarded_on=ON)

    assert both_paths(programs["e_road"], rider) == [TENURE_3]


def test_e_road_rider_offboarding_tomorrow_is_still_covered(programs):
    rider = make_person(
        joined_platform_on=date(2025, 1, 1), offboarded_on=date(2026, 6, 16)
    )

    assert both_paths(programs["e_road"], rider) == []


@pytest.mark.parametrize("county", ["440300", "440305", "440309"])
def test_e_road_covers_all_of_shenzhen(programs, county):
    rider = make_person(residence_county=county, joined_platform_on=date(2025, 1, 1))

    assert both_paths(programs["e_road"], rider) == []


@pytest.mark.parametrize("county", ["440106", "440403", "", "4403"[:3] + "0"])
def test_e_road_refuses_residents_outside_shenzhen(programs, county):
    rider = make_person(residence_county=county, joined_platform_on=date(2025, 1, 1))

    assert both_paths(programs["e_road"], rider) == [REASON_REGION]


def test_e_road_lists_every_failing_reason_in_order(programs):
    worker = make_person(occupation=Occupation.DOMESTIC, residence_county="440106")

    assert both_paths(programs["e_road"], worker) == [
        REASON_REGION,
        REASON_OCCUPATION,
        TENURE_3,
    ]


def test_e_road_has_its_seeded_benefits(programs):
    items = {i.name: i for i in programs["e_road"].benefit_items.all()}

    assert items["重大疾病救助"].payout() == 30000
    assert items["住院津贴"].daily_rate == 200
    assert items["住院津贴"].payout(days=15) == 3000  # BR-P4: 15 days x 200
    assert items["住院津贴"].payout(days=400) == 200 * items["住院津贴"].max_days


# --- 家政守护 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "reasons"),
    [
        (date(2008, 6, 15), []),  # turns 18 today
        (date(2008, 6, 16), [AGE_18_60]),  # turns 18 tomorrow
        (date(1965, 6, 16), []),  # 60, turns 61 tomorrow
        (date(1965, 6, 15), [AGE_18_60]),  # turns 61 today
        (date(1961, 1, 1), [AGE_18_60]),  # 65
    ],
)
def test_domestic_age_bounds(programs, born, reasons):
    worker = make_person(occupation=Occupation.DOMESTIC, born=born)

    assert both_paths(programs["domestic"], worker) == reasons


def test_domestic_worker_aged_65_gets_the_age_reason_in_chinese(programs):
    worker = make_person(occupation=Occupation.DOMESTIC, born=date(1961, 3, 2))

    assert both_paths(programs["domestic"], worker) == ["年龄不在18–60岁之间"]


def test_domestic_refuses_a_courier(programs):
    courier = make_person(occupation=Occupation.COURIER)

    assert both_paths(programs["domestic"], courier) == [REASON_OCCUPATION]


def test_domestic_needs_no_platform_tenure(programs):
    worker = make_person(occupation=Occupation.DOMESTIC)

    assert both_paths(programs["domestic"], worker) == []


# --- 建工守护 / 环卫守护 -------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "inside", "outside"),
    [
        ("construction", Occupation.CONSTRUCTION, Occupation.SANITATION),
        ("sanitation", Occupation.SANITATION, Occupation.CONSTRUCTION),
    ],
)
def test_occupation_programs(programs, code, inside, outside):
    covered = make_person(occupation=inside, born=date(1950, 1, 1))
    not_covered = make_person(occupation=outside)
    elsewhere = make_person(occupation=inside, residence_county="440106")

    assert both_paths(programs[code], covered) == []  # no age limit seeded
    assert both_paths(programs[code], not_covered) == [REASON_OCCUPATION]
    assert both_paths(programs[code], elsewhere) == [REASON_REGION]


# --- rules as data -----------------------------------------------------------------


def test_rule_applies_only_within_its_effective_dates(programs):
    program = programs["construction"]
    EligibilityRule.objects.create(
        program=program,
        kind=RuleKind.MEMBERSHIP_REQUIRED,
        effective_from=date(2026, 6, 15),
        effective_to=date(2026, 6, 30),
    )
    applicant = make_person(
        occupation=Occupation.CONSTRUCTION, status=MemberStatus.APPLICANT
    )

    assert both_paths(program, applicant, on=date(2026, 6, 14)) == []
    assert both_paths(program, applicant, on=date(2026, 6, 15)) == [REASON_MEMBERSHIP]
    assert both_paths(program, applicant, on=date(2026, 6, 30)) == [REASON_MEMBERSHIP]
    assert both_paths(program, applicant, on=date(2026, 7, 1)) == []


def test_not_offboarded_rule(programs):
    program = programs["construction"]
    EligibilityRule.objects.create(
        program=program, kind=RuleKind.NOT_OFFBOARDED, effective_from=date(2020, 1, 1)
    )
    on_platform = make_person(
        occupation=Occupation.CONSTRUCTION, joined_platform_on=date(2026, 6, 15)
    )
    left = make_person(
        occupation=Occupation.CONSTRUCTION,
        joined_platform_on=date(2025, 1, 1),
        offboarded_on=date(2026, 6, 15),
    )

    assert both_paths(program, on_platform) == []
    assert both_paths(program, left) == [REASON_OFFBOARDED]


def test_program_outside_its_dates_refuses_everyone(programs):
    program = programs["sanitation"]
    program.ends_on = date(2026, 6, 14)
    program.save()
    worker = make_person(occupation=Occupation.SANITATION)

    assert both_paths(program, worker) == [REASON_NOT_RUNNING]


def test_anonymous_facts_leave_unknown_rules_undecided(programs):
    facts = EligibilityFacts(
        occupation=Occupation.RIDE_HAILING,
        age=30,
        platform_links=(PlatformTenure(joined_on=date(2026, 5, 1)),),
    )

    assert eligibility_reasons(program=programs["e_road"], on=ON, facts=facts) == [
        TENURE_3
    ]
    assert eligibility_unverified(program=programs["e_road"], on=ON, facts=facts) == [
        "常住地区"
    ]


def test_rule_validation_rejects_unknown_occupation(programs):
    from django.core.exceptions import ValidationError

    rule = EligibilityRule(
        program=programs["e_road"],
        kind=RuleKind.OCCUPATION_IN,
        occupations=["astronaut"],
        effective_from=ON,
    )

    with pytest.raises(ValidationError) as excinfo:
        rule.full_clean()
    assert "occupations" in excinfo.value.message_dict
