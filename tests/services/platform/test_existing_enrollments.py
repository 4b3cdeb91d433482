"""A platform submits a person who already holds this period's enrollment
(docs/api.md §2 and §8): the answer is true, and says no more than the
platform may know.

* covering (active, needs_review): `already_enrolled` for the platform's own
  rider, `created` for anyone else (one shared coverage), status untouched;
* withdrawn by the worker from an enrollment this platform arranged:
  `rejected(withdrawn_by_worker)`, nothing re-enrolled;
* any other enrollment that does not cover (withdrawn from one the worker or
  another platform arranged, lapsed, ended): `rejected(self_enrollment_required)`,
  one answer whatever the status, whoever arranged it, rider or not.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from itertools import count

import pytest
from django.utils import timezone

from members.models import MemberStatus, PlatformRider
from services.actions.batch_rows import CSV_COLUMNS
from services.actions.batches import (
    SELF_ENROLLMENT_REQUIRED,
    WITHDRAWN_BY_WORKER,
    coverage_period,
)
from services.actions.programs import enrollment_create, enrollment_withdraw
from services.models import (
    BatchRowError,
    EligibilityRule,
    Enrollment,
    EnrollmentBatch,
    EnrollmentEvent,
    EnrollmentSource,
    RuleKind,
)
from tests.factories import make_id_number, make_member
from tests.services.platform.builders import csv_bytes, rider_row

pytestmark = pytest.mark.django_db

CREATED = ("created", "", "", "")
ALREADY = ("already_enrolled", "", "", "")
WITHDRAWN = ("rejected", "withdrawn_by_worker", "", WITHDRAWN_BY_WORKER)
SELF_ONLY = ("rejected", "self_enrollment_required", "", SELF_ENROLLMENT_REQUIRED)

_n = count(1)


def submit(client, rows: list[list[str]], key: str) -> dict:
    response = client.post(
        "/api/v1/enrollments/",
        {
            "program": "e-road",
            "riders": [dict(zip(CSV_COLUMNS, r, strict=True)) for r in rows],
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["created"] + body["already_enrolled"] + body["rejected"] == len(rows)
    assert body["total_rows"] == len(rows)
    return body


def answers(body: dict) -> list[tuple]:
    return [
        (r["outcome"], r["code"], r["field"], r["message"]) for r in body["results"]
    ]


def counts(body) -> tuple[int, int, int]:
    if isinstance(body, EnrollmentBatch):
        return (body.created, body.already_enrolled, body.rejected)
    return (body["created"], body["already_enrolled"], body["rejected"])


class Person:
    """A person the union knows, holding this period's enrollment in `status`,
    arranged by `arranged_by` (a platform, or None: the worker themselves),
    optionally already a rider of `rider_of` under `rider_id`."""

    def __init__(self, *, program, org, status, arranged_by=None, rider_of=None):
        n = next(_n)
        self.member = make_member(
            org=org,
            name="王小" + "一二三四五六七八九十"[n % 10],
            phone=f"1391234{n:04d}",
            status=MemberStatus.APPLICANT,
            residence_county="440305",
            id_number=make_id_number(born=date(1985, 1, 1) + timedelta(days=n)),
        )
        self.rider_id = f"B-{n}"
        if rider_of is not None:
            PlatformRider.objects.create(
                platform=rider_of,
                member=self.member,
                platform_rider_id=self.rider_id,
                joined_platform_on=date(2024, 1, 1),
            )
        start, end = coverage_period(program=program, on=timezone.localdate())
        self.enrollment = Enrollment.objects.create(
            member=self.member,
            program=program,
            period_start=start,
            period_end=end,
            status=status,
            source=(
                EnrollmentSource.PLATFORM if arranged_by else EnrollmentSource.SELF
            ),
            platform=arranged_by,
        )

    def row(self, *, phone: str | None = None, **extra) -> list[str]:
        return rider_row(
            name="李四",
            id_number=self.member.id_number,
            phone=phone or f"1370000{next(_n):04d}",
            rider_id=self.rider_id,
            **extra,
        )

    def unchanged(self) -> bool:
        """The enrollment is exactly as it was, and still the only one."""
        before = self.enrollment
        now = Enrollment.objects.get(pk=before.pk)
        return (
            (now.status, now.platform_id, now.source, now.status_reason)
            == (before.status, before.platform_id, before.source, "")
            and Enrollment.objects.filter(member=self.member).count() == 1
            and not EnrollmentEvent.objects.filter(enrollment=now).exists()
        )


# (status, arranged by beta / alpha / the worker, beta's rider before?) -> the
# answer to beta's first and second submission of the same row.
CASES = [
    ("withdrawn", "beta", True, WITHDRAWN, WITHDRAWN),
    ("withdrawn", "self", True, SELF_ONLY, SELF_ONLY),
    ("withdrawn", "self", False, SELF_ONLY, SELF_ONLY),
    ("withdrawn", "alpha", False, SELF_ONLY, SELF_ONLY),
    ("lapsed", "beta", True, SELF_ONLY, SELF_ONLY),
    ("lapsed", "self", False, SELF_ONLY, SELF_ONLY),
    ("lapsed", "alpha", False, SELF_ONLY, SELF_ONLY),
    ("ended", "beta", True, SELF_ONLY, SELF_ONLY),
    ("ended", "self", False, SELF_ONLY, SELF_ONLY),
    ("needs_review", "beta", True, ALREADY, ALREADY),
    ("needs_review", "self", True, ALREADY, ALREADY),
    ("needs_review", "self", False, CREATED, ALREADY),
    ("needs_review", "alpha", False, CREATED, ALREADY),
    ("active", "beta", True, ALREADY, ALREADY),
    ("active", "alpha", False, CREATED, ALREADY),
]


def make_person(case, *, program, org, alpha, beta) -> Person:
    status, arranged, was_rider, *_ = case
    platforms = {"beta": beta.platform, "alpha": alpha.platform, "self": None}
    return Person(
        program=program,
        org=org,
        status=status,
        arranged_by=platforms[arranged],
        rider_of=beta.platform if was_rider else None,
    )


@pytest.mark.parametrize("case", CASES, ids=["-".join(map(str, c[:3])) for c in CASES])
def test_json_answer_is_true_and_stable(case, alpha, beta, program, nanshan_gig_pool):
    # given
    person = make_person(
        case, program=program, org=nanshan_gig_pool, alpha=alpha, beta=beta
    )
    first_answer, second_answer = case[3], case[4]

    # when: beta submits the rider, then the same row again with a new key
    first = submit(beta, [person.row(phone="13700001111")], key="first")
    second = submit(beta, [person.row(phone="13700001111")], key="second")

    # then: a true answer, the same again (only `created` turns into
    # `already_enrolled` once the person is beta's rider), nothing changed
    assert answers(first) == [first_answer]
    assert answers(second) == [second_answer]
    assert person.unchanged()
    rejected = first_answer[0] == "rejected"
    assert counts(first) == (
        int(first_answer == CREATED),
        int(first_answer == ALREADY),
        int(rejected),
    )
    # a rejection is a downloadable row error like any other
    assert list(
        BatchRowError.objects.filter(batch_id=first["batch_id"]).values_list(
            "row", "field", "code", "message"
        )
    ) == ([(1, "", first_answer[1], first_answer[3])] if rejected else [])
    # the rider is beta's now, whatever the answer (consent on record)
    assert PlatformRider.objects.filter(
        platform=beta.platform, member=person.member
    ).exists()


def test_a_withdrawal_is_not_undone_and_the_worker_can_enroll_again(
    beta, program, nanshan_gig_pool
):
    # given: beta enrolled its rider, and the worker withdrew
    member = make_member(
        org=nanshan_gig_pool, status=MemberStatus.APPLICANT, phone="13911112222"
    )
    row = rider_row(id_number=member.id_number, rider_id="B-9", phone="13700009999")
    assert answers(submit(beta, [row], key="k1")) == [CREATED]
    enrollment = Enrollment.objects.get(member=member, program=program)
    assert enrollment.platform_id == beta.platform.pk
    enrollment_withdraw(member=member, enrollment_id=enrollment.pk)

    # when: beta submits the rider again (twice)
    again = submit(beta, [row], key="k2")
    once_more = submit(beta, [row], key="k3")

    # then: rejected, still withdrawn; beta's rider look-up says the same
    assert answers(again) == answers(once_more) == [WITHDRAWN]
    enrollment.refresh_from_db()
    assert enrollment.status == "withdrawn"
    looked_up = beta.get("/api/v1/riders/B-9/").json()
    assert [e["status"] for e in looked_up["enrollments"]] == ["withdrawn"]

    # and what the message says works: the worker enrolls again themselves
    _, created = enrollment_create(
        member=member, program=program, on=timezone.localdate()
    )
    assert created
    enrollment.refresh_from_db()
    assert enrollment.status == "active"
    assert answers(submit(beta, [row], key="k4")) == [ALREADY]


def test_a_stranger_who_withdrew_is_answered_without_saying_so(
    alpha, beta, program, nanshan_gig_pool
):
    """Privacy: for a person who is not beta's rider, the answer is the same
    whether they withdrew (from their own or alpha's enrollment), staff
    lapsed them or their enrollment ended; it names neither the worker's
    withdrawal nor a review, and submitting again (now as beta's rider) does
    not sharpen it."""
    people = {
        (status, arranged): Person(
            program=program,
            org=nanshan_gig_pool,
            status=status,
            arranged_by={"alpha": alpha.platform, "self": None}[arranged],
        )
        for status in ("withdrawn", "lapsed", "ended")
        for arranged in ("self", "alpha")
    }

    seen = set()
    for n, person in enumerate(people.values()):
        for attempt in ("a", "b"):
            body = submit(beta, [person.row()], key=f"k-{n}-{attempt}")
            seen.add(tuple(answers(body)))

    assert seen == {(SELF_ONLY,)}
    for word in ("退出", "复核", "失效", "到期", "工作人员"):
        assert word not in SELF_ENROLLMENT_REQUIRED
    assert all(p.unchanged() for p in people.values())


def test_an_ineligible_row_is_answered_on_its_facts_first(
    beta, program, nanshan_gig_pool
):
    """A row that fails the program's rules gets the new person's answer
    (`not_eligible` from the row), never the existing enrollment's."""
    EligibilityRule.objects.create(
        program=program,
        kind=RuleKind.MIN_TENURE_MONTHS,
        min_value=3,
        effective_from=date(2021, 1, 1),
    )
    withdrawn = Person(program=program, org=nanshan_gig_pool, status="withdrawn")
    recent = (timezone.localdate() - timedelta(days=10)).isoformat()
    new_row = rider_row(
        id_number=make_id_number(born=date(1993, 3, 3)),
        rider_id="B-new",
        phone="13700000077",
        joined=recent,
    )

    new_answer = answers(submit(beta, [new_row], key="k-new"))
    withdrawn_answer = answers(submit(beta, [withdrawn.row(joined=recent)], "k-w"))

    assert new_answer == [("rejected", "not_eligible", "", "在平台工作未满3个月")]
    assert withdrawn_answer == new_answer


@pytest.fixture
def small_chunks(settings):
    # several chunks per file, applied one after another
    settings.PLATFORM_BATCH_CHUNK_ROWS = 4
    settings.PLATFORM_BATCH_PARALLEL = 1


def upload(client, rows, *, key: str):
    return client.post(
        "/api/v1/enrollment-batches/",
        {"file": io.BytesIO(csv_bytes(rows)), "program": "e-road"},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_csv_batch_counts_add_up_and_rejections_are_in_the_errors_file(
    alpha,
    beta,
    program,
    nanshan_gig_pool,
    small_chunks,
    django_capture_on_commit_callbacks,
):
    # given: one file with a new person and every case above
    people = [
        make_person(c, program=program, org=nanshan_gig_pool, alpha=alpha, beta=beta)
        for c in CASES
    ]
    new_id = make_id_number(born=date(1994, 4, 4))
    rows = [rider_row(id_number=new_id, rider_id="B-new", phone="13700000001")]
    rows += [p.row(phone=f"137000001{i:02d}") for i, p in enumerate(people)]
    expected_first = [CREATED] + [c[3] for c in CASES]
    expected_second = [ALREADY] + [c[4] for c in CASES]

    # when: the file, then the same file again under a new key
    for key in ("first", "second"):
        with django_capture_on_commit_callbacks(execute=True):
            assert upload(beta, rows, key=key).status_code == 202

    # then: the counts of each batch are the per-row answers
    first, second = EnrollmentBatch.objects.filter(platform=beta.platform).order_by(
        "pk"
    )
    assert first.chunks.count() == 4
    for batch, expected in ((first, expected_first), (second, expected_second)):
        assert batch.status == "done"
        assert batch.total_rows == batch.processed_rows == len(rows)
        assert counts(batch) == (
            expected.count(CREATED),
            expected.count(ALREADY),
            len(rows) - expected.count(CREATED) - expected.count(ALREADY),
        )
        response = beta.get(f"/api/v1/enrollment-batches/{batch.pk}/errors/")
        text = b"".join(response.streaming_content).decode("utf-8-sig")
        lines = list(csv.reader(io.StringIO(text)))
        assert lines[1:] == [
            [str(n), "", answer[1], answer[3]]
            for n, answer in enumerate(expected, start=1)
            if answer[0] == "rejected"
        ]
    assert all(p.unchanged() for p in people)
    assert Enrollment.objects.filter(program=program).count() == len(rows)
