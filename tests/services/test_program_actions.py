"""Enrolling, withdrawing and the nightly jobs (re-check, renewal, reminders)."""

from __future__ import annotations

from datetime import date

import pytest

from members.models import AuditLog, Notification, Occupation
from members.notification_templates import render
from portal.exceptions import ApplicationError
from services.actions.programs import (
    ENROLL_ANONYMOUS,
    TEMPLATE_ENDING,
    TEMPLATE_ENDING_FINAL,
    TEMPLATE_ENDING_UNDER_REVIEW,
    TEMPLATE_ENROLLED,
    TEMPLATE_UNDER_REVIEW,
    WITHDRAW_NOT_ACTIVE,
    enrollment_create,
    enrollment_withdraw,
    programs_recheck,
    programs_renew,
)
from services.models import (
    Enrollment,
    EnrollmentEvent,
    EnrollmentSource,
    EnrollmentStatus,
)
from tests.factories import make_user
from tests.services.conftest import ON, make_person

pytestmark = pytest.mark.django_db


def domestic_worker(**extra):
    return make_person(
        occupation=Occupation.DOMESTIC, user=make_user(), born=date(1980, 1, 1), **extra
    )


# --- enrolling ---------------------------------------------------------------------


def test_enroll_creates_an_active_enrollment_for_the_calendar_year(programs):
    worker = domestic_worker()

    enrollment, created = enrollment_create(
        member=worker, program=programs["domestic"], on=ON, actor=worker.user
    )

    assert created is True
    assert (enrollment.period_start, enrollment.period_end) == (
        date(2026, 1, 1),
        date(2026, 12, 31),
    )
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert enrollment.source == EnrollmentSource.SELF
    assert list(enrollment.events.values_list("from_status", "to_status")) == [
        ("", "active")
    ]
    assert AuditLog.objects.filter(action="program.enroll").count() == 1
    notice = Notification.objects.get(template_code=TEMPLATE_ENROLLED)
    assert notice.params["program_code"] == "domestic"
    assert "张" not in str(notice.params)  # no personal data in params


def test_enroll_twice_returns_the_same_enrollment(programs):
    worker = domestic_worker()
    first, _ = enrollment_create(member=worker, program=programs["domestic"], on=ON)

    again, created = enrollment_create(
        member=worker, program=programs["domestic"], on=date(2026, 9, 1)
    )

    assert created is False
    assert again.pk == first.pk
    assert Enrollment.objects.count() == 1
    assert EnrollmentEvent.objects.count() == 1
    assert Notification.objects.filter(template_code=TEMPLATE_ENROLLED).count() == 1


def test_enroll_refuses_an_ineligible_worker_with_reasons(programs):
    worker = make_person(occupation=Occupation.DOMESTIC, born=date(1961, 3, 2))

    with pytest.raises(ApplicationError) as excinfo:
        enrollment_create(member=worker, program=programs["domestic"], on=ON)

    assert excinfo.value.code == "not_eligible"
    assert excinfo.value.extra["reasons"] == ["年龄不在18–60岁之间"]
    assert not Enrollment.objects.exists()
    assert not AuditLog.objects.filter(action="program.enroll").exists()


def test_enroll_refuses_anonymous_programs(programs):
    rider = make_person(joined_platform_on=date(2025, 1, 1))

    with pytest.raises(ApplicationError) as excinfo:
        enrollment_create(member=rider, program=programs["e_road"], on=ON)

    assert excinfo.value.message == ENROLL_ANONYMOUS
    assert not Enrollment.objects.exists()


def test_enroll_after_withdrawing_reactivates_the_same_period(programs):
    worker = domestic_worker()
    enrollment, _ = enrollment_create(
        member=worker, program=programs["domestic"], on=ON
    )
    enrollment_withdraw(member=worker, enrollment_id=enrollment.pk)

    again, created = enrollment_create(
        member=worker, program=programs["domestic"], on=ON
    )

    assert created is True
    assert again.pk == enrollment.pk
    assert again.status == EnrollmentStatus.ACTIVE
    assert list(again.events.values_list("to_status", flat=True)) == [
        "active",
        "withdrawn",
        "active",
    ]


def test_withdraw_twice_withdraws_once(programs):
    worker = domestic_worker()
    enrollment, _ = enrollment_create(
        member=worker, program=programs["domestic"], on=ON
    )
    enrollment_withdraw(member=worker, enrollment_id=enrollment.pk)

    with pytest.raises(ApplicationError) as excinfo:
        enrollment_withdraw(member=worker, enrollment_id=enrollment.pk)

    assert excinfo.value.message == WITHDRAW_NOT_ACTIVE
    assert enrollment.events.filter(to_status="withdrawn").count() == 1


def test_withdraw_refuses_someone_elses_enrollment(programs):
    worker = domestic_worker()
    other = domestic_worker()
    enrollment, _ = enrollment_create(
        member=worker, program=programs["domestic"], on=ON
    )

    with pytest.raises(ApplicationError):
        enrollment_withdraw(member=other, enrollment_id=enrollment.pk)

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE


# --- nightly re-check ----------------------------------------------------------------


def enroll(member, program, *, start=date(2026, 1, 1), end=date(2026, 12, 31), **kw):
    return Enrollment.objects.create(
        member=member,
        program=program,
        period_start=start,
        period_end=end,
        source=kw.pop("source", EnrollmentSource.PLATFORM),
        **kw,
    )


def test_recheck_puts_the_ineligible_under_review_never_lapsed_idempotently(programs):
    # given: two still-eligible riders, one who left the platform, one who moved
    eligible = [make_person(joined_platform_on=date(2025, 1, 1)) for _ in range(2)]
    left = make_person(
        joined_platform_on=date(2025, 1, 1), offboarded_on=date(2026, 6, 1)
    )
    moved = make_person(joined_platform_on=date(2025, 1, 1), residence_county="440106")
    rows = {m.pk: enroll(m, programs["e_road"]) for m in [*eligible, left, moved]}

    # when
    first = programs_recheck(on=ON)
    second = programs_recheck(on=ON)

    # then
    assert (first.under_review, first.ended, first.notices) == (2, 0, 2)
    assert (second.under_review, second.ended, second.notices) == (0, 0, 0)
    statuses = dict(Enrollment.objects.values_list("member_id", "status"))
    assert statuses == {
        eligible[0].pk: "active",
        eligible[1].pk: "active",
        left.pk: "needs_review",
        moved.pk: "needs_review",
    }
    # PIPL art. 24: the automated "no" is never final.
    assert not Enrollment.objects.filter(status="lapsed").exists()
    assert not EnrollmentEvent.objects.filter(to_status="lapsed").exists()
    assert Enrollment.objects.get(member=left).status_reason == "在平台工作未满3个月"
    assert (
        Enrollment.objects.get(member=moved).status_reason == "常住地不在本计划覆盖地区"
    )
    assert Notification.objects.count() == 2
    notices = Notification.objects.filter(template_code=TEMPLATE_UNDER_REVIEW)
    assert sorted(notices.values_list("member_id", flat=True)) == sorted(
        [left.pk, moved.pk]
    )
    notice = notices.get(member=left)
    assert notice.dedupe_key == f"enrollment-review:{rows[left.pk].pk}:2026-06-15"
    assert notice.params == {
        "programs": [
            {
                "code": "e_road",
                "name": "E路守护",
                "enrollment_id": rows[left.pk].pk,
                "reasons": "在平台工作未满3个月",
            }
        ],
        "findings": "E路守护(在平台工作未满3个月)",
    }
    assert notice.status == "pending"
    title, text = render(notice.template_code, notice.params)
    assert (
        "自动核查发现您可能不再符合保障计划的参加条件:E路守护(在平台工作未满3个月)"
        in text
    )
    assert "复核期间保障继续有效" in text and "要求说明自动判断的理由" in text
    history = EnrollmentEvent.objects.filter(enrollment=rows[left.pk])
    assert list(history.values_list("from_status", "to_status", "source")) == [
        ("active", "needs_review", "nightly")
    ]
    assert not EnrollmentEvent.objects.filter(enrollment__member__in=eligible).exists()


def test_recheck_sends_one_notice_per_member_in_review_in_two_programs(programs):
    worker = make_person(occupation=Occupation.DOMESTIC, born=date(1980, 1, 1))
    a = enroll(worker, programs["domestic"])
    b = enroll(worker, programs["construction"])

    result = programs_recheck(on=ON)

    assert result.under_review == 1  # only construction: she is a domestic worker
    worker.occupation = Occupation.OTHER
    worker.save()
    result = programs_recheck(on=date(2026, 6, 16))
    # Domestic goes under review; construction, already under review, is not
    # judged (nor notified) again.
    assert (result.under_review, result.notices) == (1, 1)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == ("needs_review", "needs_review")
    assert b.events.count() == 1
    assert Notification.objects.filter(member=worker).count() == 2  # two nights

    # Two programs going under review in one run give one notice.
    other = make_person(occupation=Occupation.OTHER)
    c = enroll(other, programs["domestic"])
    d = enroll(other, programs["sanitation"])
    result = programs_recheck(on=ON)
    assert (result.under_review, result.notices) == (2, 1)
    notice = Notification.objects.get(member=other)
    assert notice.dedupe_key == f"enrollment-review:{min(c.pk, d.pk)}:2026-06-15"
    assert [p["code"] for p in notice.params["programs"]] == (
        ["domestic", "sanitation"] if c.pk < d.pk else ["sanitation", "domestic"]
    )
    assert notice.params["findings"].count("(职业不在本计划覆盖范围)") == 2


def test_recheck_ends_periods_that_are_over(programs):
    worker = domestic_worker()
    old = enroll(
        worker, programs["domestic"], start=date(2025, 1, 1), end=date(2025, 12, 31)
    )
    current = enroll(worker, programs["domestic"])

    result = programs_recheck(on=ON)

    old.refresh_from_db()
    current.refresh_from_db()
    assert (result.ended, result.under_review, result.notices) == (1, 0, 0)
    assert (old.status, old.status_reason) == ("ended", "保障期已结束")
    assert current.status == "active"


def test_recheck_ends_a_review_whose_period_is_over(programs):
    worker = make_person(occupation=Occupation.OTHER)
    old = enroll(
        worker,
        programs["domestic"],
        start=date(2025, 1, 1),
        end=date(2025, 12, 31),
        status="needs_review",
        status_reason="职业不在本计划覆盖范围",
    )

    result = programs_recheck(on=ON)

    old.refresh_from_db()
    assert (result.ended, result.under_review, result.notices) == (1, 0, 0)
    assert (old.status, old.status_reason) == ("ended", "保障期已结束")
    assert list(old.events.values_list("from_status", "to_status")) == [
        ("needs_review", "ended")
    ]


def test_recheck_leaves_withdrawn_and_lapsed_rows_alone(programs):
    worker = make_person(occupation=Occupation.OTHER)
    withdrawn = enroll(worker, programs["domestic"], status="withdrawn")

    result = programs_recheck(on=ON)

    withdrawn.refresh_from_db()
    assert result == type(result)(ended=0, under_review=0, notices=0)
    assert withdrawn.status == "withdrawn"
    assert not EnrollmentEvent.objects.exists()


# --- renewal and reminders ---------------------------------------------------------


def test_renewal_moves_still_eligible_members_into_the_next_year(programs):
    # given: 30 days before the end of 2026; `leaves` no longer qualifies and
    # the re-check has not seen it yet (it would have put it under review)
    on = date(2026, 12, 1)
    stays = domestic_worker()
    leaves = make_person(occupation=Occupation.OTHER, user=make_user())
    kept = enroll(stays, programs["domestic"])
    ending = enroll(leaves, programs["domestic"])

    # when
    first = programs_renew(on=on)
    second = programs_renew(on=on)

    # then: one renewal; the other is under review (PIPL art. 24), told so
    # once, and reminded that its cover ends while under review
    assert (first.renewed, first.under_review, first.notices, first.reminders) == (
        1,
        1,
        1,
        1,
    )
    assert (
        second.renewed,
        second.under_review,
        second.notices,
        second.reminders,
    ) == (0, 0, 0, 0)
    renewal = Enrollment.objects.get(member=stays, period_start=date(2027, 1, 1))
    assert (renewal.period_end, renewal.status, renewal.source) == (
        date(2027, 12, 31),
        "active",
        "renewal",
    )
    assert list(renewal.events.values_list("to_status", "source")) == [
        ("active", "nightly")
    ]
    assert not Enrollment.objects.filter(
        member=leaves, period_start__year=2027
    ).exists()
    ending.refresh_from_db()
    assert ending.status == "needs_review"
    assert Notification.objects.get(template_code=TEMPLATE_UNDER_REVIEW).member_id == (
        leaves.pk
    )
    assert not Notification.objects.filter(template_code=TEMPLATE_ENDING).exists()
    reminder = Notification.objects.get(template_code=TEMPLATE_ENDING_UNDER_REVIEW)
    assert reminder.member_id == leaves.pk
    assert reminder.dedupe_key == f"enrollment-ending:{ending.pk}:30"
    assert reminder.category == "reminder"
    assert reminder.params == {
        "enrollment_id": ending.pk,
        "program_code": "domestic",
        "program_name": "家政守护",
        "period_end": "2026-12-31",
        "days_before": 30,
    }
    assert not Notification.objects.filter(member=stays).exists()
    kept.refresh_from_db()
    assert kept.status == "active"


def test_reminders_30_and_7_days_before_the_end(programs):
    leaves = make_person(occupation=Occupation.OTHER)
    ending = enroll(leaves, programs["domestic"])

    outside = programs_renew(on=date(2026, 11, 30))  # 31 days before
    at_30 = programs_renew(on=date(2026, 12, 1))
    between = [programs_renew(on=date(2026, 12, d)) for d in range(2, 24)]
    at_7 = programs_renew(on=date(2026, 12, 24))
    again = programs_renew(on=date(2026, 12, 30))

    assert outside.reminders == 0
    assert at_30.reminders == 1
    assert sum(r.reminders for r in between) == 0
    assert at_7.reminders == 1
    assert again.reminders == 0
    assert sorted(
        Notification.objects.filter(member=leaves, category="reminder").values_list(
            "dedupe_key", flat=True
        )
    ) == [f"enrollment-ending:{ending.pk}:30", f"enrollment-ending:{ending.pk}:7"]


def test_late_enrollment_gets_only_the_7_day_reminder(programs):
    leaves = make_person(occupation=Occupation.OTHER)
    ending = enroll(leaves, programs["domestic"])

    result = programs_renew(on=date(2026, 12, 28))

    assert result.reminders == 1
    assert Notification.objects.get(member=leaves, category="reminder").dedupe_key == (
        f"enrollment-ending:{ending.pk}:7"
    )


def test_no_renewal_past_the_programs_end(programs):
    program = programs["domestic"]
    program.ends_on = date(2026, 12, 31)
    program.save()
    worker = domestic_worker()
    enroll(worker, program)

    result = programs_renew(on=date(2026, 12, 1))

    assert result.renewed == 0
    assert result.reminders == 1
    assert Enrollment.objects.count() == 1
    # and the reminder does not promise a renewal that will not come
    reminder = Notification.objects.get(member=worker, category="reminder")
    assert reminder.template_code == TEMPLATE_ENDING_FINAL
    title, text = render(reminder.template_code, reminder.params)
    assert "不再续保" in text and "自动续保" not in text


def test_a_switched_off_program_reminds_without_promising_renewal(programs):
    program = programs["domestic"]
    worker = domestic_worker()
    enroll(worker, program)
    program.is_active = False
    program.save()

    programs_renew(on=date(2026, 12, 1))

    assert list(
        Notification.objects.filter(member=worker, category="reminder").values_list(
            "template_code", flat=True
        )
    ) == [TEMPLATE_ENDING_FINAL]


def test_a_running_program_still_promises_renewal(programs):
    # the 30-day reminder comes before this program's 7-day renewal window
    program = programs["domestic"]
    program.renewal_lead_days = 7
    program.save()
    worker = domestic_worker()
    enroll(worker, program)

    programs_renew(on=date(2026, 12, 1))

    assert list(
        Notification.objects.filter(member=worker, category="reminder").values_list(
            "template_code", flat=True
        )
    ) == [TEMPLATE_ENDING]


def test_coverage_never_runs_past_the_programs_end(programs):
    program = programs["domestic"]
    program.ends_on = date(2026, 9, 30)
    program.save()
    worker = domestic_worker()

    enrollment, _ = enrollment_create(member=worker, program=program, on=ON)

    assert (enrollment.period_start, enrollment.period_end) == (
        date(2026, 1, 1),
        date(2026, 9, 30),
    )


def test_rolling_period_counts_months_from_the_enrollment_day(programs):
    from services.models import PeriodRule

    program = programs["sanitation"]
    program.period_rule = PeriodRule.ROLLING_MONTHS
    program.period_months = 12
    program.save()
    worker = make_person(occupation=Occupation.SANITATION)

    enrollment, _ = enrollment_create(
        member=worker, program=program, on=date(2026, 1, 31)
    )

    assert (enrollment.period_start, enrollment.period_end) == (
        date(2026, 1, 31),
        date(2027, 1, 30),
    )
    assert program.next_period(
        period_start=enrollment.period_start, period_end=enrollment.period_end
    ) == (date(2027, 1, 31), date(2028, 1, 30))
