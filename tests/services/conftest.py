"""Fixtures for protection-program tests: the seeded 深工守护 programs and
builders for people with exactly the facts a rule looks at."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from members.models import MemberStatus, Occupation, PlatformRider, UnionOrg
from services.models import BenefitItem, EligibilityRule, Program
from services.reference_data import seed_shengong_programs
from tests.factories import make_member, make_platform

ON = date(2026, 6, 15)
_seq = itertools.count(1)


@pytest.fixture
def programs(db) -> dict[str, Program]:
    return seed_programs()


def seed_programs() -> dict[str, Program]:
    """The four seeded programs (the data migration made them; transactional
    tests flush them, so seed again: the function is idempotent)."""
    seed_shengong_programs(
        program_model=Program,
        rule_model=EligibilityRule,
        benefit_model=BenefitItem,
        union_org_model=UnionOrg,
    )
    return {p.code: p for p in Program.objects.all()}


def make_person(
    *,
    occupation: str = Occupation.FOOD_DELIVERY,
    born: date = date(1990, 3, 7),
    residence_county: str = "440305",
    status: str = MemberStatus.ACTIVE,
    joined_platform_on: date | None = None,
    offboarded_on: date | None = None,
    **extra,
):
    member = make_member(
        occupation=occupation,
        born=born,
        residence_county=residence_county,
        status=status,
        **extra,
    )
    if joined_platform_on is not None or offboarded_on is not None:
        make_platform_link(
            member=member,
            joined_platform_on=joined_platform_on,
            offboarded_on=offboarded_on,
        )
    return member


def make_platform_link(*, member, joined_platform_on, offboarded_on=None):
    return PlatformRider.objects.create(
        platform=make_platform(),
        member=member,
        platform_rider_id=f"R{next(_seq):06d}",
        joined_platform_on=joined_platform_on,
        offboarded_on=offboarded_on,
    )


def make_riders_named_program(seeded: dict[str, Program]) -> Program:
    """骑手意外互助: a named program for food-delivery riders that the union runs
    beside the anonymous E路守护 (riders enroll themselves)."""
    from services.models import EnrollmentMode, RuleKind

    program = Program.objects.create(
        code="rider_accident",
        name="骑手意外互助",
        description="外卖骑手意外伤害互助保障,本人报名参加。",
        sponsor_org=seeded["e_road"].sponsor_org,
        enrollment_mode=EnrollmentMode.NAMED,
        starts_on=date(2021, 1, 1),
    )
    EligibilityRule.objects.create(
        program=program,
        kind=RuleKind.OCCUPATION_IN,
        occupations=[Occupation.FOOD_DELIVERY],
        effective_from=date(2021, 1, 1),
    )
    return program
