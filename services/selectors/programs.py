"""Reads for protection programs, scoped to the caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet
from django.utils import timezone

from members.models import Member
from services.models import (
    COVERING_STATUSES,
    Enrollment,
    EnrollmentMode,
    Program,
)
from services.selectors.eligibility import (
    eligibility_reasons,
    facts_for_member,
    programs_with_rules,
)


def programs_public() -> QuerySet[Program]:
    return (
        Program.objects.filter(is_active=True)
        .prefetch_related(programs_with_rules(), "benefit_items")
        .order_by("id")
    )


def program_get_public(*, code: str) -> Program | None:
    return programs_public().filter(code=code).first()


@dataclass(frozen=True)
class Coverage:
    """One program that covers the member on a day."""

    program: Program
    period_start: date
    period_end: date
    enrollment: Enrollment | None

    @property
    def is_anonymous(self) -> bool:
        return self.enrollment is None


def coverage_for_member(*, member: Member, on: date) -> list[Coverage]:
    """Every program covering `member` on `on`: active enrollments covering the
    day and those under staff review (coverage continues during review), plus
    each anonymous program the member qualifies for right now (无记名:
    eligible = covered, for the program's current period)."""
    covered: dict[int, Coverage] = {}
    enrollments = Enrollment.objects.filter(
        member=member,
        status__in=COVERING_STATUSES,
        period_start__lte=on,
        period_end__gte=on,
    ).select_related("program")
    for enrollment in enrollments:
        covered[enrollment.program_id] = Coverage(
            program=enrollment.program,
            period_start=enrollment.period_start,
            period_end=enrollment.period_end,
            enrollment=enrollment,
        )
    facts = facts_for_member(member)
    for program in programs_public().filter(enrollment_mode=EnrollmentMode.ANONYMOUS):
        if program.pk in covered:
            continue
        if not eligibility_reasons(program=program, on=on, facts=facts):
            start, end = program.period_for(on)
            covered[program.pk] = Coverage(program, start, end, None)
    return sorted(covered.values(), key=lambda c: c.program.pk)


def enrollment_history_for_member(*, member: Member) -> QuerySet[Enrollment]:
    return (
        Enrollment.objects.filter(member=member)
        .select_related("program")
        .order_by("-period_start", "program_id")
    )


def enrollments_export(*, user, member: Member | None) -> list[dict]:
    """The worker's enrollments and each one's history, for their own copy of
    their data (members.exports)."""
    if member is None:
        return []
    enrollments = enrollment_history_for_member(member=member).prefetch_related(
        "events"
    )
    return [
        {
            "program": e.program.name,
            "program_code": e.program.code,
            "period_start": e.period_start.isoformat(),
            "period_end": e.period_end.isoformat(),
            "status": e.status,
            "status_reason": e.status_reason,
            "source": e.source,
            "created_at": timezone.localtime(e.created_at).isoformat(),
            "history": [
                {
                    "time": timezone.localtime(ev.created_at).isoformat(),
                    "from_status": ev.from_status,
                    "to_status": ev.to_status,
                    "reason": ev.reason,
                    "source": ev.source,
                }
                for ev in e.events.all()
            ],
        }
        for e in enrollments
    ]
