"""Writes for protection programs: enrolling, withdrawing, and the nightly jobs
(re-check, renewal, reminders).

The nightly jobs are set-based: a handful of INSERT ... SELECT / UPDATE ... FROM
statements per program, driven by `program_reasons_expression` (the single-pass
form of `program_failures_sql`), so one night over a million enrollments moves
no rows through Python. They run the same SQL on PostgreSQL and SQLite (3.35+:
UPDATE ... FROM, ON CONFLICT, MATERIALIZED CTEs); the few dialect differences
(JSON building) are the `_sql_*` helpers below.

SQL text here embeds only table names from model metadata and fixed fragments;
every value is a bound parameter.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from uuid import uuid4

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from members.audit import audit_record
from members.models import (
    Member,
    Notification,
    NotificationCategory,
    NotificationChannel,
    NotificationStatus,
    Platform,
    User,
)
from portal.exceptions import ApplicationError
from services.models import (
    COVERING_STATUSES,
    Enrollment,
    EnrollmentEvent,
    EnrollmentEventSource,
    EnrollmentMode,
    EnrollmentSource,
    EnrollmentStatus,
    Program,
)
from services.selectors.eligibility import (
    eligibility_reasons,
    program_reasons_expression,
    programs_with_rules,
)

# gettext_noop: plain str here; the worker view translates it on display.
ENROLL_ANONYMOUS = gettext_noop("该计划为无记名保障:符合条件即受保障,无需报名。")
ENROLL_NOT_ELIGIBLE = "暂不符合参加条件:{reasons}"  # the view shows exc.extra
WITHDRAW_NOT_ACTIVE = gettext_noop("只有保障中的参保记录可以退出。")
REVIEW_NOT_PENDING = "该参保记录已不在待人工复核状态,可能已由其他工作人员处理。"
REVIEW_NOT_IN_SCOPE = "该参保记录不在你所在工会的管辖范围内。"
# Stored status reasons (Chinese data) that 我的保障 shows through reason_display().
REASON_PERIOD_OVER = gettext_noop("保障期已结束")
REASON_WITHDRAWN = gettext_noop("本人申请退出")
REASON_REVIEW_CONFIRMED = gettext_noop("经工作人员复核确认不再符合条件")
REASON_REVIEW_RESTORED = gettext_noop("经工作人员复核恢复保障")
# Event reasons for the admin's history only ("本人报名参加" is also the
# enrollment-mode label, translated "Sign-up required": not marked here).
REASON_RENEWED = "仍符合条件,自动续保"
REASON_RENEWED_RESTORED = "经工作人员复核恢复保障,自动续保"
REASON_ENROLLED = "本人报名参加"

# Template codes written to the outbox (members.models.Notification).
TEMPLATE_ENROLLED = "programs.enrolled"
# No nightly job lapses anyone (PIPL art. 24): the re-check and the renewal put
# enrollments under review and tell the worker; only staff confirm a lapse.
TEMPLATE_UNDER_REVIEW = "programs.enrollment_under_review"
TEMPLATE_LAPSED = "programs.enrollment_lapsed_reviewed"
TEMPLATE_RESTORED = "programs.enrollment_restored"
TEMPLATE_WITHDRAWN = "programs.enrollment_withdrawn"
TEMPLATE_ENDING = "programs.coverage_ending"
TEMPLATE_ENDING_UNDER_REVIEW = "programs.coverage_ending_under_review"
TEMPLATE_ENDING_FINAL = "programs.coverage_ending_final"
REMINDER_OFFSETS = (30, 7)

_LOCK_KEY = zlib.crc32(b"services.programs.nightly")


# --- enrolling -------------------------------------------------------------------


@transaction.atomic
def enrollment_create(
    *,
    member: Member,
    program: Program,
    on: date,
    actor: User | None = None,
    source: str = EnrollmentSource.SELF,
    platform: Platform | None = None,
) -> tuple[Enrollment, bool]:
    """Enroll `member` in a named program for the period containing `on`.

    Idempotent: an enrollment already covering `on` is returned with
    created=False. Two concurrent clicks race on the unique
    (member, program, period_start) constraint; the loser reads the winner's row.
    A lapsed or withdrawn enrollment of the same period is reactivated (the
    constraint allows one row per period).
    """
    if program.enrollment_mode != EnrollmentMode.NAMED:
        raise ApplicationError(ENROLL_ANONYMOUS, code="anonymous")
    reasons = eligibility_reasons(program=program, member=member, on=on)
    if reasons:
        raise ApplicationError(
            ENROLL_NOT_ELIGIBLE.format(reasons=";".join(reasons)),
            code="not_eligible",
            extra={"reasons": reasons},
        )
    current = _enrollment_covering(member=member, program=program, on=on)
    if current is not None:
        return current, False
    start, end = program.period_for(on)
    enrollment = Enrollment(
        member=member,
        program=program,
        period_start=start,
        period_end=end,
        status=EnrollmentStatus.ACTIVE,
        source=source,
        platform=platform,
    )
    # Uniqueness is left to the database constraint (it also settles races).
    enrollment.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            enrollment.save()
    except IntegrityError:
        enrollment = Enrollment.objects.select_for_update().get(
            member=member, program=program, period_start=start
        )
        if enrollment.status == EnrollmentStatus.ACTIVE:
            return enrollment, False
        previous = enrollment.status
        enrollment.status = EnrollmentStatus.ACTIVE
        enrollment.status_reason = ""
        enrollment.source = source
        enrollment.save(
            update_fields=["status", "status_reason", "source", "updated_at"]
        )
        _event(enrollment, previous, actor, source)
    else:
        _event(enrollment, "", actor, source)
    audit_record(
        action="program.enroll",
        actor=actor,
        member=member,
        object_type="enrollment",
        object_id=enrollment.pk,
        detail={"program": program.code, "period_start": start.isoformat()},
    )
    if member.user_id:
        from members.actions.notifications import notification_enqueue

        notification_enqueue(
            template_code=TEMPLATE_ENROLLED,
            dedupe_key=f"enrollment-created:{enrollment.pk}:{enrollment.period_start}",
            channel=NotificationChannel.INBOX,
            user=member.user,
            member=member,
            params={
                "enrollment_id": enrollment.pk,
                "program_code": program.code,
                "program_name": program.name,
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
            },
        )
    return enrollment, True


def _enrollment_covering(*, member: Member, program: Program, on: date):
    # An enrollment under review still covers: enrolling again returns it
    # (created=False) instead of reactivating it, so only staff end a review.
    return (
        Enrollment.objects.filter(
            member=member,
            program=program,
            status__in=COVERING_STATUSES,
            period_start__lte=on,
            period_end__gte=on,
        )
        .order_by("period_start")
        .first()
    )


def _event(enrollment: Enrollment, previous: str, actor: User | None, source: str):
    event_source = {
        EnrollmentSource.SELF: EnrollmentEventSource.WORKER,
        EnrollmentSource.PLATFORM: EnrollmentEventSource.PLATFORM,
        EnrollmentSource.STAFF: EnrollmentEventSource.STAFF,
    }.get(source, EnrollmentEventSource.NIGHTLY)
    EnrollmentEvent.objects.create(
        enrollment=enrollment,
        from_status=previous,
        to_status=enrollment.status,
        reason=REASON_ENROLLED if source == EnrollmentSource.SELF else "",
        source=event_source,
    )


@transaction.atomic
def enrollment_withdraw(
    *, member: Member, enrollment_id: int, actor: User | None = None
) -> Enrollment:
    """The worker leaves a named program, also while it is under review (the
    worker may always leave). Claimed by a conditional UPDATE per covering
    status, so a double submit withdraws once and the second gets
    WITHDRAW_NOT_ACTIVE; the status that matched is the event's from_status."""
    previous = None
    for status in COVERING_STATUSES:
        claimed = Enrollment.objects.filter(
            pk=enrollment_id, member=member, status=status
        ).update(
            status=EnrollmentStatus.WITHDRAWN,
            status_reason=REASON_WITHDRAWN,
            updated_at=timezone.now(),
        )
        if claimed == 1:
            previous = status
            break
    if previous is None:
        raise ApplicationError(WITHDRAW_NOT_ACTIVE, code="not_active")
    enrollment = Enrollment.objects.select_related("program").get(pk=enrollment_id)
    EnrollmentEvent.objects.create(
        enrollment=enrollment,
        from_status=previous,
        to_status=EnrollmentStatus.WITHDRAWN,
        reason=REASON_WITHDRAWN,
        source=EnrollmentEventSource.WORKER,
    )
    audit_record(
        action="program.withdraw",
        actor=actor,
        member=member,
        object_type="enrollment",
        object_id=enrollment.pk,
        detail={"program": enrollment.program.code, "from_status": previous},
    )

    _notify_about(
        enrollment,
        template_code=TEMPLATE_WITHDRAWN,
        dedupe_key=f"enrollment-withdrawn:{enrollment.pk}",
        channel=NotificationChannel.INBOX,
    )
    return enrollment


def _notify_about(
    enrollment: Enrollment, *, template_code: str, dedupe_key: str, channel: str
) -> None:
    """One outbox notice to the enrollment's member about it."""
    from members.actions.notifications import notification_enqueue

    member = enrollment.member
    notification_enqueue(
        template_code=template_code,
        dedupe_key=dedupe_key,
        channel=channel,
        user=member.user,
        member=member,
        params={
            "enrollment_id": enrollment.pk,
            "program_code": enrollment.program.code,
            "program_name": enrollment.program.name,
        },
    )


# --- nightly jobs ------------------------------------------------------------------


@dataclass(frozen=True)
class RecheckResult:
    ended: int
    under_review: int
    notices: int


@dataclass(frozen=True)
class RenewResult:
    renewed: int
    under_review: int  # failed at renewal time: needs_review, not renewed
    notices: int  # their under-review SMS (one per member)
    reminders: int


def _is_pg() -> bool:
    return connection.vendor == "postgresql"


def _lock() -> None:
    """Serialise nightly runs (a re-delivered task, a manual run): the second
    waits, then finds nothing left to do. SQLite has one writer anyway."""
    if _is_pg():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            # Batch settings for this transaction only: sorts and hashes of a
            # few hundred thousand rows stay in memory, and JIT compilation
            # (~0.5 s per statement) costs more than it saves here.
            cursor.execute("SET LOCAL work_mem = '64MB'")
            cursor.execute("SET LOCAL jit = off")


def _sql_json_object(pairs: list[tuple[str, str]]) -> str:
    fn = "json_build_object" if _is_pg() else "json_object"
    return f"{fn}(" + ", ".join(f"'{key}', {expr}" for key, expr in pairs) + ")"


def _sql_json_agg(expr: str, order_by: str) -> str:
    if _is_pg():
        return f"json_agg({expr} ORDER BY {order_by})"
    return f"json_group_array({expr})"


def _sql_jsonb(expr: str) -> str:
    return f"CAST({expr} AS jsonb)" if _is_pg() else expr


def _sql_date_text(expr: str) -> str:
    return f"to_char({expr}, 'YYYY-MM-DD')" if _is_pg() else expr


def _d(value: date):
    return connection.ops.adapt_datefield_value(value)


def _dt(value):
    return connection.ops.adapt_datetimefield_value(value)


T_ENROLLMENT = Enrollment._meta.db_table
T_EVENT = EnrollmentEvent._meta.db_table
T_MEMBER = Member._meta.db_table
T_PROGRAM = Program._meta.db_table
T_NOTICE = Notification._meta.db_table
NOTICE_COLUMNS = (
    "user_id, member_id, channel, category, template_code, params, dedupe_key,"
    " due_at, status, attempts, last_error, created_at"
)


@transaction.atomic
def programs_recheck(*, on: date) -> RecheckResult:
    """Re-evaluate every active enrollment on `on`, set-based.

    1. Enrollments whose period is over (active or under review) become `ended`.
    2. Per program, active enrollments of members failing any rule become
       `needs_review` with their reasons (history rows first, tagged with this
       run's key). PIPL art. 24: the automated "no" is never final; coverage
       continues until staff confirm (`enrollment_review_confirm`) or restore
       (`enrollment_review_restore`) it. Rows already under review, and rows
       staff restored for this period (`restored_on`), are not judged again.
    3. One outbox notice per affected member (dedupe key
       `enrollment-review:<lowest enrollment id in this run>:<on>`), saying what
       the check found and that the worker may ask for an explanation.
    A second run finds no active ineligible enrollment and changes nothing.
    """
    _lock()
    run_key = uuid4().hex
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {T_EVENT} (enrollment_id, from_status, to_status, reason,"  # noqa: S608
            " source, run_key, created_at)"
            " SELECT e.id, e.status, %s, %s, %s, %s, %s"
            f" FROM {T_ENROLLMENT} e WHERE e.status IN (%s, %s) AND e.period_end < %s",
            [
                EnrollmentStatus.ENDED.value,
                REASON_PERIOD_OVER,
                EnrollmentEventSource.NIGHTLY.value,
                run_key,
                _dt(now),
                EnrollmentStatus.ACTIVE.value,
                EnrollmentStatus.NEEDS_REVIEW.value,
                _d(on),
            ],
        )
        ended = cursor.rowcount
        for program in Program.objects.prefetch_related(programs_with_rules()):
            _judge_into_review(
                cursor,
                program=program,
                on=on,
                run_key=run_key,
                now=now,
                scope="e.period_end >= %s",
                scope_params=[_d(on)],
            )
        # (Python's sqlite3 reports no rowcount for WITH ... INSERT, so count
        # the reviews here: every event of this run moved exactly one row.)
        under_review = _apply_run(cursor, run_key=run_key, now=now) - ended
        notices = _notify_under_review(cursor, run_key=run_key, on=on, now=now)
    return RecheckResult(ended=ended, under_review=under_review, notices=notices)


# The parts of an automated "no" (PIPL art. 24) that the re-check and the renewal
# share: judge into `needs_review` history rows tagged with the run's key, move
# the enrollments, tell each member once.


def _judge_into_review(
    cursor,
    *,
    program: Program,
    on: date,
    run_key: str,
    now,
    scope: str,
    scope_params: list,
) -> int:
    """One pass over the program's active enrollments matching `scope` (SQL
    over `e`), joined to their members: a `needs_review` history row with the
    reasons for each whose member fails a rule on `on`. Rows staff restored
    for their period (`restored_on`) are not judged. Returns the row count
    (PostgreSQL; SQLite reports none for WITH ... INSERT)."""
    reasons, reason_params = program_reasons_expression(program=program, on=on)
    # MATERIALIZED so the rules are evaluated once per row.
    cursor.execute(
        "WITH judged AS MATERIALIZED ("  # noqa: S608
        f" SELECT e.id AS enrollment_id, {reasons} AS reasons"
        f" FROM {T_ENROLLMENT} e JOIN {T_MEMBER} m ON m.id = e.member_id"
        " WHERE e.program_id = %s AND e.status = %s AND e.restored_on IS NULL"
        f" AND {scope})"
        f" INSERT INTO {T_EVENT} (enrollment_id, from_status, to_status,"
        " reason, source, run_key, created_at)"
        " SELECT j.enrollment_id, %s, %s, SUBSTR(j.reasons, 2, 300), %s, %s, %s"
        " FROM judged j WHERE j.reasons <> ''",
        [
            *reason_params,
            program.pk,
            EnrollmentStatus.ACTIVE.value,
            *scope_params,
            EnrollmentStatus.ACTIVE.value,
            EnrollmentStatus.NEEDS_REVIEW.value,
            EnrollmentEventSource.NIGHTLY.value,
            run_key,
            _dt(now),
        ],
    )
    return max(cursor.rowcount, 0)


def _apply_run(cursor, *, run_key: str, now, analyze: bool = True) -> int:
    """Move every enrollment this run wrote a history row for, if it is still
    in the row's from_status; returns how many moved."""
    if analyze and _is_pg():
        # The planner has no statistics for the rows just inserted (it
        # guesses one per run_key) and would join them row by row; a
        # sample-based ANALYZE is cheap and counts this transaction's rows.
        cursor.execute(f"ANALYZE {T_EVENT}")
    cursor.execute(
        f"UPDATE {T_ENROLLMENT} SET status = ev.to_status,"  # noqa: S608
        " status_reason = ev.reason, updated_at = %s"
        f" FROM {T_EVENT} ev WHERE ev.enrollment_id = {T_ENROLLMENT}.id"
        f" AND ev.run_key = %s AND {T_ENROLLMENT}.status = ev.from_status",
        [_dt(now), run_key],
    )
    return cursor.rowcount


def _notify_under_review(cursor, *, run_key: str, on: date, now) -> int:
    """One SMS per member whose enrollments this run put under review
    (programs.enrollment_under_review: what the check found, coverage
    continues, the worker may ask for an explanation). Dedupe key
    `enrollment-review:<lowest enrollment id in this run>:<on>`."""
    programs_json = _sql_json_agg(
        _sql_json_object(
            [
                ("code", "p.code"),
                ("name", "p.name"),
                ("enrollment_id", "e.id"),
                ("reasons", "ev.reason"),
            ]
        ),
        "e.id",
    )
    params_sql = _sql_jsonb(
        _sql_json_object([("programs", programs_json), ("findings", _sql_findings())])
    )
    cursor.execute(
        f"INSERT INTO {T_NOTICE} ({NOTICE_COLUMNS})"  # noqa: S608
        f" SELECT m.user_id, m.id, %s, %s, %s, {params_sql},"
        " %s || CAST(MIN(e.id) AS TEXT) || %s, %s, %s, 0, '', %s"
        f" FROM {T_EVENT} ev JOIN {T_ENROLLMENT} e ON e.id = ev.enrollment_id"
        f" JOIN {T_MEMBER} m ON m.id = e.member_id"
        f" JOIN {T_PROGRAM} p ON p.id = e.program_id"
        " WHERE ev.run_key = %s AND ev.to_status = %s"
        " GROUP BY m.id, m.user_id"
        " ON CONFLICT (dedupe_key) DO NOTHING",
        [
            NotificationChannel.SMS.value,
            NotificationCategory.SERVICE.value,
            TEMPLATE_UNDER_REVIEW,
            "enrollment-review:",
            f":{on.isoformat()}",
            _dt(now),
            NotificationStatus.PENDING.value,
            _dt(now),
            run_key,
            EnrollmentStatus.NEEDS_REVIEW.value,
        ],
    )
    return cursor.rowcount


def _sql_findings() -> str:
    """What the check found, as one line for the notice text:
    `家政守护(年龄不在18–60岁之间、还不是工会会员(需先入会))` per program, `;`
    between programs (the rule texts themselves hold no personal data)."""
    item = "p.name || '(' || REPLACE(ev.reason, ';', '、') || ')'"
    if _is_pg():
        return f"string_agg({item}, ';' ORDER BY e.id)"
    return f"group_concat({item}, ';')"


# --- staff review of an automated "no" (PIPL art. 24) ------------------------------


@transaction.atomic
def enrollment_review_confirm(*, enrollment_id: int, reviewer: User) -> Enrollment:
    """确认失效: staff agree with the nightly check or the renewal;
    `needs_review → lapsed` (so it is not renewed either).
    The automated reasons stay in status_reason; the event names the reviewer;
    audit `program.review_confirm`; the worker gets an SMS notice."""
    return _review_decide(
        enrollment_id=enrollment_id,
        reviewer=reviewer,
        to_status=EnrollmentStatus.LAPSED,
    )


@transaction.atomic
def enrollment_review_restore(*, enrollment_id: int, reviewer: User) -> Enrollment:
    """恢复保障: staff overrule the nightly check or the renewal;
    `needs_review → active`, audit `program.review_restore`, an inbox notice to
    the worker. The decision holds for the enrollment's period (`restored_on`:
    the nightly check skips it, so the worker is not flagged and messaged again
    every night) and the next renewal run inside the window renews it without
    judging it; the next period's enrollment is judged anew by the nightly
    check."""
    return _review_decide(
        enrollment_id=enrollment_id,
        reviewer=reviewer,
        to_status=EnrollmentStatus.ACTIVE,
    )


def _review_decide(*, enrollment_id: int, reviewer: User, to_status: str) -> Enrollment:
    enrollment = Enrollment.objects.select_related(
        "program", "member", "member__org", "member__user"
    ).get(pk=enrollment_id)
    org = getattr(reviewer, "org", None)
    in_scope = reviewer.is_superuser or (
        reviewer.is_staff
        and org is not None
        and enrollment.member.org.path.startswith(org.path)
    )
    if not in_scope:
        raise ApplicationError(REVIEW_NOT_IN_SCOPE, code="not_in_scope")
    confirmed = to_status == EnrollmentStatus.LAPSED
    automated = enrollment.status_reason
    status_reason = automated if confirmed else ""
    # The claim: two reviewers deciding at once (or one double click) update
    # one row once; the loser changes nothing and is told so.
    now = timezone.now()
    claimed = Enrollment.objects.filter(
        pk=enrollment_id, status=EnrollmentStatus.NEEDS_REVIEW
    ).update(
        status=to_status,
        status_reason=status_reason,
        # A restore holds for the period: the nightly check skips this row.
        restored_on=None if confirmed else timezone.localdate(now),
        updated_at=now,
    )
    if claimed != 1:
        raise ApplicationError(REVIEW_NOT_PENDING, code="not_pending")
    enrollment.refresh_from_db()
    reason = REASON_REVIEW_CONFIRMED if confirmed else REASON_REVIEW_RESTORED
    if confirmed and enrollment.status_reason:
        reason = f"{reason}:{enrollment.status_reason}"[:300]
    event = EnrollmentEvent.objects.create(
        enrollment=enrollment,
        from_status=EnrollmentStatus.NEEDS_REVIEW,
        to_status=to_status,
        reason=reason,
        source=EnrollmentEventSource.STAFF,
        actor=reviewer,
    )
    member = enrollment.member
    audit_record(
        action="program.review_confirm" if confirmed else "program.review_restore",
        actor=reviewer,
        member=member,
        object_type="enrollment",
        object_id=enrollment.pk,
        detail={
            "program": enrollment.program.code,
            "from_status": EnrollmentStatus.NEEDS_REVIEW.value,
            "to_status": to_status,
        },
    )

    kind = "lapsed" if confirmed else "restored"
    _notify_about(
        enrollment,
        template_code=TEMPLATE_LAPSED if confirmed else TEMPLATE_RESTORED,
        dedupe_key=f"enrollment-review-{kind}:{event.pk}",
        channel=NotificationChannel.SMS if confirmed else NotificationChannel.INBOX,
    )
    return enrollment


@transaction.atomic
def programs_renew(*, on: date) -> RenewResult:
    """Before a period ends (within the program's `renewal_lead_days`), carry
    each active enrollment into the next period, then remind those whose
    coverage ends without a successor, 30 and 7 days before the end.

    The renewal's "no" is never final either (PIPL art. 24, security.md PI10).
    It judges on `on` with the same expression and the same restored_on rule as
    the re-check, so in the ordinary night (re-check 02:30, renewal 03:30) it
    finds nothing the re-check has not put under review already. An active
    enrollment that fails anyway (the facts changed in between, the re-check
    did not run that night or ran after this) is not silently left to end: it
    goes to `needs_review` exactly as the re-check would do it (history rows,
    the same SMS), and is not renewed.

    - `needs_review` is not renewed while staff decide. 恢复保障 (restore) makes
      it active with `restored_on`, and the next run inside the window renews
      it; 确认失效 (confirm) lapses it, so it ends without renewal.
    - A restored enrollment renews without being judged here: staff's decision
      holds for its period, and the new period's row is judged anew by the
      re-check (the next night), whose "no" puts that row under review; a
      confirm then lapses the new period only.
    - Rules are evaluated on `on`, not at the next period's start: a "no"
      moves the current enrollment, so it must be about today's facts (an
      age limit reached after `on`, or a rule taking effect at the next
      period, is found by the re-check on the day it applies).
    - No renewal past the program's `ends_on`, nor for a program not running
      on `on`: a decision about the program, not about a person.

    Idempotent: a row judged "no" is under review (not active) on the next run,
    inserts are ON CONFLICT DO NOTHING (a row for the next period in any status,
    e.g. withdrawn, is left alone), and notices have dedupe keys
    (`enrollment-review:…`, `enrollment-ending:<enrollment id>:<30|7>`), so a
    second run changes nothing. Reminders for a cover under review say so
    (`programs.coverage_ending_under_review`) instead of only that it ends."""
    _lock()
    run_key = uuid4().hex
    now = timezone.now()
    active = EnrollmentStatus.ACTIVE.value
    flagged = 0
    renewable: list[tuple[Program, date, date, date]] = []
    with connection.cursor() as cursor:
        for program in Program.objects.prefetch_related(programs_with_rules()):
            if not program.is_running_on(on):
                continue
            window_end = on + timedelta(days=program.renewal_lead_days)
            ending = (
                Enrollment.objects.filter(
                    program=program,
                    status=active,
                    period_end__gte=on,
                    period_end__lte=window_end,
                )
                .values_list("period_end", flat=True)
                .distinct()
            )
            for period_end in sorted(set(ending)):
                next_start, next_end = program.next_period(
                    period_start=period_end, period_end=period_end
                )
                if program.ends_on is not None and next_start > program.ends_on:
                    continue
                flagged += _judge_into_review(
                    cursor,
                    program=program,
                    on=on,
                    run_key=run_key,
                    now=now,
                    scope="e.period_end = %s",
                    scope_params=[_d(period_end)],
                )
                renewable.append((program, period_end, next_start, next_end))
        # Usually none (the re-check came first); analyse only after a night
        # without it, when the planner's one-row guess would cost a nested loop.
        under_review = _apply_run(
            cursor, run_key=run_key, now=now, analyze=flagged >= 10_000
        )
        notices = _notify_under_review(cursor, run_key=run_key, on=on, now=now)
        # Every enrollment still active in the window qualifies today or was
        # restored by staff: carry it into the next period.
        for program, period_end, next_start, next_end in renewable:
            cursor.execute(
                f"INSERT INTO {T_ENROLLMENT} (member_id, program_id,"  # noqa: S608
                " period_start, period_end, status, status_reason, source,"
                " platform_id, created_at, updated_at)"
                " SELECT e.member_id, e.program_id, %s, %s, %s, '', %s,"
                " e.platform_id, %s, %s"
                f" FROM {T_ENROLLMENT} e"
                " WHERE e.program_id = %s AND e.status = %s AND e.period_end = %s"
                " ON CONFLICT (member_id, program_id, period_start) DO NOTHING",
                [
                    _d(next_start),
                    _d(next_end),
                    active,
                    EnrollmentSource.RENEWAL.value,
                    _dt(now),
                    _dt(now),
                    program.pk,
                    active,
                    _d(period_end),
                ],
            )
        # History for the rows this run created (they carry its timestamp);
        # the reason says whether the member qualified or staff had restored
        # the ending enrollment (its period ends on or after `on`).
        cursor.execute(
            f"INSERT INTO {T_EVENT} (enrollment_id, from_status, to_status, reason,"  # noqa: S608
            " source, run_key, created_at)"
            " SELECT n.id, '', %s,"
            f" CASE WHEN EXISTS (SELECT 1 FROM {T_ENROLLMENT} prev"
            "  WHERE prev.member_id = n.member_id AND prev.program_id = n.program_id"
            "  AND prev.period_start < n.period_start AND prev.period_end >= %s"
            "  AND prev.restored_on IS NOT NULL) THEN %s ELSE %s END,"
            " %s, '', %s"
            f" FROM {T_ENROLLMENT} n WHERE n.source = %s AND n.created_at = %s"
            f" AND NOT EXISTS (SELECT 1 FROM {T_EVENT} ev"
            " WHERE ev.enrollment_id = n.id)",
            [
                active,
                _d(on),
                REASON_RENEWED_RESTORED,
                REASON_RENEWED,
                EnrollmentEventSource.NIGHTLY.value,
                _dt(now),
                EnrollmentSource.RENEWAL.value,
                _dt(now),
            ],
        )
        renewed = cursor.rowcount  # one history row per enrollment created above
        reminders = 0
        params_sql = _sql_jsonb(
            _sql_json_object(
                [
                    ("enrollment_id", "e.id"),
                    ("program_code", "p.code"),
                    ("program_name", "p.name"),
                    ("period_end", _sql_date_text("e.period_end")),
                    ("days_before", "%s"),
                ]
            )
        )
        windows = {30: (8, 30), 7: (0, 7)}
        for offset in REMINDER_OFFSETS:
            low, high = windows[offset]
            # A cover under review is told so (and that a restore renews it),
            # not only that it ends. A successor under review still covers the
            # next period, so it counts as one. When the program ends with this
            # period (or is switched off), nothing renews, and the text says so.
            cursor.execute(
                f"INSERT INTO {T_NOTICE} ({NOTICE_COLUMNS})"  # noqa: S608
                " SELECT m.user_id, m.id, %s, %s,"
                " CASE WHEN NOT p.is_active OR p.ends_on <= e.period_end THEN %s"
                f" WHEN e.status = %s THEN %s ELSE %s END, {params_sql},"
                " %s || CAST(e.id AS TEXT) || %s, %s, %s, 0, '', %s"
                f" FROM {T_ENROLLMENT} e JOIN {T_MEMBER} m ON m.id = e.member_id"
                f" JOIN {T_PROGRAM} p ON p.id = e.program_id"
                " WHERE e.status IN (%s, %s)"
                " AND e.period_end >= %s AND e.period_end <= %s"
                f" AND NOT EXISTS (SELECT 1 FROM {T_ENROLLMENT} n"
                "  WHERE n.member_id = e.member_id AND n.program_id = e.program_id"
                "  AND n.status IN (%s, %s) AND n.period_start > e.period_end)"
                " ON CONFLICT (dedupe_key) DO NOTHING",
                [
                    NotificationChannel.SMS.value,
                    NotificationCategory.REMINDER.value,
                    TEMPLATE_ENDING_FINAL,
                    EnrollmentStatus.NEEDS_REVIEW.value,
                    TEMPLATE_ENDING_UNDER_REVIEW,
                    TEMPLATE_ENDING,
                    offset,
                    "enrollment-ending:",
                    f":{offset}",
                    _dt(now),
                    NotificationStatus.PENDING.value,
                    _dt(now),
                    active,
                    EnrollmentStatus.NEEDS_REVIEW.value,
                    _d(on + timedelta(days=low)),
                    _d(on + timedelta(days=high)),
                    active,
                    EnrollmentStatus.NEEDS_REVIEW.value,
                ],
            )
            reminders += cursor.rowcount
    return RenewResult(
        renewed=renewed,
        under_review=under_review,
        notices=notices,
        reminders=reminders,
    )
