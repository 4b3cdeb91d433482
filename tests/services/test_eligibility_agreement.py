"""Property: for any rules and any population, the per-person evaluation and the
set-based SQL name exactly the same (member, reason) pairs. Runs on PostgreSQL and
SQLite (the SQL is portable)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from members.models import Member, MemberStatus, Occupation, PlatformRider
from services.models import EligibilityRule, EnrollmentMode, Program, RuleKind
from services.selectors.eligibility import (
    REASON_SEPARATOR,
    eligibility_reasons,
    program_failures,
    program_reasons_expression,
)
from tests.factories import make_org, make_platform

pytestmark = pytest.mark.django_db

BASE = date(2026, 2, 28)
_seq = itertools.count(1)

days = st.integers(min_value=-900, max_value=900).map(lambda d: BASE + timedelta(d))
maybe_day = st.none() | days

rule_st = st.one_of(
    st.builds(
        lambda occ, f, t: {
            "kind": RuleKind.OCCUPATION_IN,
            "occupations": sorted(occ),
            **_dates(f, t),
        },
        st.sets(st.sampled_from(Occupation.values), min_size=1, max_size=4),
        days,
        maybe_day,
    ),
    st.builds(
        lambda lo, span, f, t: {
            "kind": RuleKind.AGE_BETWEEN,
            "min_value": lo,
            "max_value": lo + span,
            **_dates(f, t),
        },
        st.integers(0, 70),
        st.integers(0, 30),
        days,
        maybe_day,
    ),
    st.builds(
        lambda n, f, t: {
            "kind": RuleKind.MIN_TENURE_MONTHS,
            "min_value": n,
            **_dates(f, t),
        },
        st.integers(0, 24),
        days,
        maybe_day,
    ),
    st.builds(
        lambda f, t: {"kind": RuleKind.NOT_OFFBOARDED, **_dates(f, t)}, days, maybe_day
    ),
    st.builds(
        lambda f, t: {"kind": RuleKind.MEMBERSHIP_REQUIRED, **_dates(f, t)},
        days,
        maybe_day,
    ),
    st.builds(
        lambda p, f, t: {
            "kind": RuleKind.REGION_PREFIX,
            "region_prefix": p,
            **_dates(f, t),
        },
        st.sampled_from(["44", "4403", "440305", "4401"]),
        days,
        maybe_day,
    ),
)


def _dates(start: date, end: date | None) -> dict:
    if end is not None and end < start:
        start, end = end, start
    return {"effective_from": start, "effective_to": end}


link_st = st.tuples(maybe_day, maybe_day)
person_st = st.fixed_dictionaries(
    {
        "occupation": st.sampled_from(Occupation.values),
        # Birth dates cluster near age boundaries, including 29 February.
        "birth_date": st.one_of(
            st.dates(min_value=date(1950, 1, 1), max_value=date(2012, 12, 31)),
            st.sampled_from([date(2008, 2, 29), date(1966, 2, 28), date(1965, 3, 1)]),
        ),
        "residence_county": st.sampled_from(["440305", "440300", "440106", "", "4403"]),
        "status": st.sampled_from([MemberStatus.ACTIVE, MemberStatus.APPLICANT]),
        "links": st.lists(link_st, max_size=2),
    }
)


def reasons_by_expression(program, on, member_ids) -> dict[int, list[str]]:
    expression, params = program_reasons_expression(program=program, on=on)
    marks = ", ".join(["%s"] * len(member_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.id, {expression} FROM members_member m WHERE m.id IN ({marks})",  # noqa: S608
            [*params, *member_ids],
        )
        return {
            pk: [r for r in text.split(REASON_SEPARATOR) if r] if text else []
            for pk, text in cursor.fetchall()
        }


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rules=st.lists(rule_st, max_size=5),
    people=st.lists(person_st, min_size=1, max_size=12),
    on=days,
    running=st.booleans(),
)
def test_person_and_sql_paths_agree(db, rules, people, on, running):
    with transaction.atomic():
        org = make_org()
        program = Program.objects.create(
            code=f"prop-{next(_seq)}",
            name="性质测试计划",
            sponsor_org=org,
            enrollment_mode=EnrollmentMode.NAMED,
            starts_on=BASE - timedelta(days=1000),
            ends_on=None if running else BASE - timedelta(days=1001),
        )
        for spec in rules:
            EligibilityRule.objects.create(program=program, **spec)
        platform = make_platform()
        members = []
        for person in people:
            n = next(_seq)
            member = Member(
                org=org,
                name="测试",
                birth_date=person["birth_date"],
                gender="F",
                occupation=person["occupation"],
                residence_county=person["residence_county"],
                status=person["status"],
                member_no=f"P{n:09d}"
                if person["status"] == MemberStatus.ACTIVE
                else None,
            )
            member.set_id_number(f"prop-{n}")
            member.save()
            for i, (joined, left) in enumerate(person["links"]):
                PlatformRider.objects.create(
                    platform=platform if i == 0 else make_platform(),
                    member=member,
                    platform_rider_id=f"P{n}-{i}",
                    joined_platform_on=joined,
                    offboarded_on=left,
                )
            members.append(member)
        program = Program.objects.get(pk=program.pk)

        sql_side = program_failures(program=program, on=on)
        single_pass = reasons_by_expression(program, on, [m.pk for m in members])
        for member in members:
            one = eligibility_reasons(program=program, member=member, on=on)
            assert sorted(sql_side.get(member.pk, [])) == sorted(one)
            assert single_pass[member.pk] == one  # same order, too
        transaction.set_rollback(True)
