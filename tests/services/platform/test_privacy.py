"""A platform learns nothing about a person who is not its rider (security.md
AC3, PIPL art. 6; docs/api.md "Privacy").

Platform beta submits the same row for three ID numbers: one new to the union,
one of a union member (who enrolled themselves and whose stored occupation and
residence differ from the row), one of platform alpha's rider (enrolled by alpha,
two years on alpha). Each answer (outcome, code, field, message, counts) must be
exactly the answer for the new person, through the JSON endpoint and a CSV file.
"""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from django.utils import timezone

from members.models import Member, MemberStatus, Occupation, PlatformRider
from services.actions.batch_rows import CSV_COLUMNS
from services.actions.batches import coverage_period
from services.models import (
    EligibilityRule,
    Enrollment,
    EnrollmentBatch,
    EnrollmentSource,
    Program,
    RuleKind,
)
from tests.factories import make_id_number, make_member
from tests.services.platform.builders import csv_bytes, rider_row

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

COLUMNS = CSV_COLUMNS


def months_ago(months: int) -> str:
    return (timezone.localdate() - timedelta(days=31 * months)).isoformat()


@pytest.fixture
def people(alpha, program, nanshan_gig_pool):
    """ID numbers: new to the union, a member's, alpha's rider's."""
    start, end = coverage_period(program=program, on=timezone.localdate())
    member = make_member(
        org=nanshan_gig_pool,
        name="欧阳娜娜",
        phone="13911110001",
        occupation=Occupation.CONSTRUCTION,
        residence_county="440104",  # Guangzhou
        status=MemberStatus.ACTIVE,
    )
    Enrollment.objects.create(
        member=member,
        program=program,
        period_start=start,
        period_end=end,
        source=EnrollmentSource.SELF,
    )
    ridden = make_member(
        org=nanshan_gig_pool,
        name="司马光",
        phone="13911110002",
        status=MemberStatus.APPLICANT,
        residence_county="440305",
    )
    PlatformRider.objects.create(
        platform=alpha.platform,
        member=ridden,
        platform_rider_id="A-77",
        joined_platform_on=timezone.localdate() - timedelta(days=730),
    )
    Enrollment.objects.create(
        member=ridden,
        program=program,
        period_start=start,
        period_end=end,
        source=EnrollmentSource.PLATFORM,
        platform=alpha.platform,
    )
    return {
        "new": make_id_number(born=date(1991, 5, 5)),
        "member": member.id_number,
        "alpha_rider": ridden.id_number,
    }


def as_json(row: list[str]) -> dict:
    return dict(zip(COLUMNS, row, strict=True))


def submit(client, rows: list[list[str]], key: str) -> dict:
    response = client.post(
        "/api/v1/enrollments/",
        {"program": "e-road", "riders": [as_json(r) for r in rows]},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert response.status_code == 200, response.content
    return response.json()


def answer(body: dict) -> list[tuple]:
    return [
        (r["outcome"], r["code"], r["field"], r["message"]) for r in body["results"]
    ]


def counts(body: dict) -> tuple[int, int, int]:
    return (body["created"], body["already_enrolled"], body["rejected"])


def beta_row(id_number: str, *, joined: str, phone: str = "13700000001") -> list:
    # The same facts for everyone: Nanshan, food delivery, rider id B-1.
    return rider_row(
        name="李四",
        id_number=id_number,
        phone=phone,
        rider_id="B-1",
        joined=joined,
    )


def answers_for_each_person(beta, people, **row) -> dict[str, tuple]:
    """Beta submits the row for each person (rolled back between them, so each
    one meets the union as it was)."""
    from django.db import transaction

    result = {}
    for who, id_number in people.items():
        sid = transaction.savepoint()
        body = submit(beta, [beta_row(id_number, **row)], key=f"k-{who}")
        result[who] = (answer(body), counts(body))
        transaction.savepoint_rollback(sid)
    return result


def test_enrolling_someone_known_elsewhere_answers_like_a_new_person(
    beta, people, program
):
    # when: a row that qualifies
    answers = answers_for_each_person(beta, people, joined=months_ago(12))

    # then: created for all three; nobody is `already_enrolled` to beta
    assert answers["new"] == ([("created", "", "", "")], (1, 0, 0))
    assert answers["member"] == answers["new"]
    assert answers["alpha_rider"] == answers["new"]


def test_eligibility_judges_what_the_platform_submitted(beta, people, program):
    # given: E路守护-like rules: three months on the platform, in Shenzhen, in a
    # delivery occupation
    for kind, extra in (
        (RuleKind.MIN_TENURE_MONTHS, {"min_value": 3}),
        (RuleKind.REGION_PREFIX, {"region_prefix": "4403"}),
        (RuleKind.OCCUPATION_IN, {"occupations": ["food_delivery", "courier"]}),
    ):
        EligibilityRule.objects.create(
            program=program, kind=kind, effective_from=date(2021, 1, 1), **extra
        )

    # when: one month on beta (alpha's rider has two years on alpha; the member
    # is stored as a construction worker in Guangzhou)
    answers = answers_for_each_person(beta, people, joined=months_ago(1))

    # then: the new person's answer, word for word, for all three
    assert answers["new"] == (
        [("rejected", "not_eligible", "", "在平台工作未满3个月")],
        (0, 0, 1),
    )
    assert answers["member"] == answers["new"]
    assert answers["alpha_rider"] == answers["new"]


def test_membership_rule_does_not_tell_members_apart(beta, people, program):
    EligibilityRule.objects.create(
        program=program,
        kind=RuleKind.MEMBERSHIP_REQUIRED,
        effective_from=date(2021, 1, 1),
    )

    answers = answers_for_each_person(beta, people, joined=months_ago(12))

    assert answers["new"] == (
        [
            (
                "rejected",
                "not_eligible",
                "",
                "该计划仅限工会会员本人报名,平台不能代为报名。",
            )
        ],
        (0, 0, 1),
    )
    assert answers["member"] == answers["new"]
    assert answers["alpha_rider"] == answers["new"]


def test_a_phone_held_outside_the_platform_is_no_conflict(beta, people, program):
    # given: 13911110001 is the member's phone, 13911110002 alpha's rider's
    fresh = submit(
        beta, [beta_row(make_id_number(), joined=months_ago(12))], key="k-fresh"
    )

    # when: new people submitted with those phones
    for n, phone in enumerate(("13911110001", "13911110002")):
        new_id = make_id_number(born=date(1992, 1, 1 + n))
        row = beta_row(new_id, joined=months_ago(12), phone=phone)
        row[5] = f"B-{n + 10}"
        body = submit(beta, [row], key=f"k-phone-{n}")

        # then: the same answer as a fresh phone, and the new record is kept
        # without the phone another person holds
        assert answer(body) == answer(fresh)
        created = Member.objects.get(id_number_hmac=_hmac(new_id))
        assert (created.phone, created.phone_hmac) == ("", None)
    assert Member.objects.get(name="欧阳娜娜").phone == "13911110001"


def test_a_phone_of_another_own_rider_is_still_a_conflict(beta, program):
    submit(beta, [beta_row(make_id_number(), joined=months_ago(12))], key="k-1")
    row = beta_row(make_id_number(born=date(1993, 2, 2)), joined=months_ago(12))
    row[5] = "B-2"  # same phone 13700000001, another person and rider id

    body = submit(beta, [row], key="k-2")

    assert answer(body) == [
        ("rejected", "phone_in_use", "phone", "该手机号已登记在本平台另一骑手名下。")
    ]


def test_own_rider_already_covered_is_already_enrolled(beta, people, program):
    first = submit(beta, [beta_row(people["member"], joined=months_ago(12))], "k-a")
    again = submit(beta, [beta_row(people["member"], joined=months_ago(12))], "k-b")

    assert counts(first) == (1, 0, 0)
    assert counts(again) == (0, 1, 0)
    assert answer(again) == [("already_enrolled", "", "", "")]


def test_csv_file_counts_the_same_for_every_person(
    beta, people, program, django_capture_on_commit_callbacks
):
    # given: one file naming all three (different rider ids and phones)
    rows = []
    for n, id_number in enumerate(people.values()):
        row = beta_row(id_number, joined=months_ago(12), phone=f"1370000001{n}")
        row[5] = f"B-{n + 1}"
        rows.append(row)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = beta.post(
            "/api/v1/enrollment-batches/",
            {"program": "e-road", "file": io.BytesIO(csv_bytes(rows))},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="k-file",
        )

    # then: three created, none already enrolled
    assert response.status_code == 202, response.content
    batch = EnrollmentBatch.objects.get(platform=beta.platform)
    assert (batch.created, batch.already_enrolled, batch.rejected) == (3, 0, 0)


def _hmac(id_number: str) -> str:
    from members.models.people import ID_NUMBER_INDEX
    from portal.crypto import blind_index

    return blind_index(id_number, purpose=ID_NUMBER_INDEX)


def test_rider_lookup_shows_nothing_the_platform_did_not_send_or_arrange(
    alpha, people, program
):
    # given: alpha's rider, whom the worker also enrolled in another program
    # themselves and whose union record holds a name and phone alpha never sent
    rider = PlatformRider.objects.get(platform_rider_id="A-77")
    other = Program.objects.create(
        code="domestic-x",
        sponsor_org=program.sponsor_org,
        name="家政守护X",
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 12, 31),
    )
    Enrollment.objects.create(
        member=rider.member,
        program=other,
        period_start=date(2026, 1, 1),
        period_end=date(2026, 12, 31),
        source=EnrollmentSource.SELF,
    )

    data = alpha.get("/api/v1/riders/A-77/").json()

    raw = str(data)
    assert "司" not in raw and "1391111" not in raw  # name, phone
    assert "membership" not in data
    assert [e["program"] for e in data["enrollments"]] == [program.code]


@pytest.mark.parametrize(
    ("status", "shown"),
    [
        ("active", "active"),
        ("needs_review", "active"),  # under staff review: still covers
        ("lapsed", "ended"),  # staff ended it after review: no reason given
        ("ended", "ended"),
        ("withdrawn", "withdrawn"),
    ],
)
def test_rider_lookup_never_shows_a_review_status(
    alpha, people, program, status, shown
):
    # given: alpha's rider, whose enrollment alpha arranged, in `status`
    rider = PlatformRider.objects.get(platform_rider_id="A-77")
    Enrollment.objects.filter(member=rider.member, program=program).update(
        status=status
    )

    # when: alpha looks the rider up
    data = alpha.get("/api/v1/riders/A-77/").json()

    # then: coverage in the platform's three words; no review status (AC3)
    assert [e["status"] for e in data["enrollments"]] == [shown]
    assert "review" not in str(data) and "lapsed" not in str(data)
