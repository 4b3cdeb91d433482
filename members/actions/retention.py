"""Retention schedule (security.md PI8; PIPL art. 19, 47): a daily job deletes or
anonymises personal data whose period is over, category by category.

Each category is a `RetentionCategory` in a registry: the members app registers
its own here, other apps register theirs in `AppConfig.ready()` (services: platform
batch files and error rows), so members never imports services. The periods are
settings (`RETENTION_*_DAYS`, env-overridable; defaults in portal/settings.py and
docs/architecture.md).

Every category works in chunks of `RETENTION_CHUNK` rows, each chunk one
transaction that picks its ids with `FOR UPDATE SKIP LOCKED` (PostgreSQL) and
changes them with one set-based statement; per-record audit rows (for the rows that
stay, or that carry a member) are written by `INSERT … SELECT` in the same
transaction. Nothing is done twice: a row that was handled no longer matches its
category's condition, so a second delivery of the task finds nothing, writes no
audit row and returns zero counts. After each category with a non-zero count one
summary audit row (`retention_delete` / `retention_anonymise`, count, cutoff) is
written. A PostgreSQL session advisory lock keeps two runs from overlapping.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from members.audit import audit_record
from members.models import (
    ANONYMISED_NAME,
    EX_MEMBER_STATUSES,
    ApplicationStatus,
    Member,
    MembershipApplication,
    MembershipEvent,
    Notification,
    NotificationStatus,
    OneTimeCode,
    PlatformRider,
)
from portal.request_context import current

log = logging.getLogger(__name__)

ACTION_DELETE = "retention_delete"
ACTION_ANONYMISE = "retention_anonymise"
_LOCK_KEY = 0x5E7E_0008  # pg advisory lock id of the retention run


@dataclass(frozen=True)
class RetentionCategory:
    code: str
    label: str  # Chinese, for the admin / command output
    action: str  # ACTION_DELETE | ACTION_ANONYMISE
    days_setting: str  # name of the settings attribute holding the period
    count: Callable[[datetime], int]  # rows due at this cutoff
    apply: Callable[[datetime, datetime, int], int]  # (cutoff, now, chunk) -> done

    @property
    def days(self) -> int:
        return int(getattr(settings, self.days_setting))


@dataclass(frozen=True)
class RetentionResult:
    category: str
    action: str
    days: int
    cutoff: datetime
    count: int


_REGISTRY: dict[str, RetentionCategory] = {}


def register_retention_category(category: RetentionCategory) -> None:
    existing = _REGISTRY.get(category.code)
    if existing is not None and existing != category:
        raise ValueError(f"retention category {category.code!r} registered twice")
    _REGISTRY[category.code] = category


def retention_categories() -> list[RetentionCategory]:
    return list(_REGISTRY.values())


# --- helpers -------------------------------------------------------------------


def pick_ids(qs: QuerySet, chunk: int) -> list[int]:
    """Up to `chunk` ids of `qs`, locked for this transaction; rows another run
    holds are skipped (it will finish them)."""
    qs = qs.order_by("pk")
    if connection.vendor == "postgresql":
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    return list(qs.values_list("pk", flat=True)[:chunk])


def retention_audit_rows(
    *,
    table: str,
    object_type: str,
    action: str,
    ids: list[int],
    reason: str,
    member_column: str | None = None,
) -> None:
    """One audit row per id of `table` (a constant table name), written by a
    single INSERT … SELECT in the caller's transaction. Inside a request (a
    processed deletion request) the rows carry its request id and client IP."""
    if not ids:
        return
    ctx = current()
    placeholders = ",".join(["%s"] * len(ids))
    member_expr = f"t.{member_column}" if member_column else "NULL"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO members_auditlog
                (created_at, actor_id, actor_role, ip, request_id, action,
                 object_type, object_id, member_id, field, reason, outcome, detail)
            SELECT %s, NULL, 'system', %s, %s, %s, %s, CAST(t.id AS varchar(64)),
                   {member_expr}, '', %s, 'success', %s
            FROM {table} t WHERE t.id IN ({placeholders})
            """,  # noqa: S608 - table/column names are constants of the callers
            [
                timezone.now(),
                ctx.ip if ctx else None,
                ctx.request_id if ctx else "",
                action,
                object_type,
                reason[:200],
                json.dumps({"policy": "PI8"}),
                *ids,
            ],
        )


def run_in_chunks(qs: QuerySet, chunk: int, handle: Callable[[list[int]], int]) -> int:
    """Walk `qs` in id order, `chunk` ids per transaction: pick them (locked,
    SKIP LOCKED), `handle(ids)` in the same transaction, continue after the last
    id (keyset: the deleted rows' dead index entries are never walked again).
    Returns the sum of what `handle` reported."""
    total = 0
    last = 0
    while True:
        with transaction.atomic():
            ids = pick_ids(qs.filter(pk__gt=last), chunk)
            if ids:
                total += handle(ids)
        if len(ids) < chunk:
            return total
        last = ids[-1]


# --- shared erasure paths (also used by an approved deletion request) ------------


def applications_delete(*, ids: list[int], reason: str) -> int:
    """Delete these membership applications with a per-record audit row each
    (call inside a transaction). Their history events stay, unlinked."""
    if not ids:
        return 0
    retention_audit_rows(
        table="members_membershipapplication",
        object_type="membership_application",
        action=ACTION_DELETE,
        ids=ids,
        reason=reason,
    )
    MembershipEvent.objects.filter(application_id__in=ids).update(application=None)
    MembershipApplication.platforms.through.objects.filter(
        membershipapplication_id__in=ids
    ).delete()
    deleted = MembershipApplication.objects.filter(pk__in=ids)._raw_delete(
        MembershipApplication.objects.db
    )
    return deleted


def members_anonymise(*, ids: list[int], reason: str, now: datetime) -> int:
    """Anonymise these members (call inside a transaction): the row, its status,
    dates, occupation, org and counts stay for statistics; the name becomes a
    placeholder; ID number, phone and their blind indexes are erased (the ID
    index becomes `anon:<id>`, which no HMAC can equal, because it is UNIQUE NOT
    NULL), so the person can no longer be found by them; the account link is cut.
    Their applications and platform rider ids are erased the same way. Rows
    already anonymised are skipped, so this is safe to repeat."""
    if not ids:
        return 0
    ids = list(
        Member.objects.filter(pk__in=ids, anonymised_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    if not ids:
        return 0
    retention_audit_rows(
        table="members_member",
        object_type="member",
        action=ACTION_ANONYMISE,
        ids=ids,
        reason=reason,
        member_column="id",
    )
    placeholders = ",".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE members_member
            SET name = %s, id_number = '', id_number_hmac = 'anon:' || CAST(id AS
                varchar(20)), phone = '', phone_hmac = NULL, user_id = NULL,
                anonymised_at = %s, updated_at = %s
            WHERE id IN ({placeholders}) AND anonymised_at IS NULL
            """,  # noqa: S608
            [ANONYMISED_NAME, now, now, *ids],
        )
        done = cursor.rowcount
    MembershipApplication.objects.filter(member_id__in=ids).update(
        name=ANONYMISED_NAME, id_number="", id_number_hmac="", phone="", phone_hmac=""
    )
    PlatformRider.objects.filter(member_id__in=ids).update(
        platform_rider_id=_anon_rider_expression(), consent_ref=""
    )
    return done


def _anon_rider_expression():
    from django.db.models import CharField, Value
    from django.db.models.functions import Cast, Concat

    return Concat(Value("anon:"), Cast("pk", output_field=CharField()))


# --- the member app's categories -------------------------------------------------


def _ended_applications(cutoff: datetime) -> QuerySet:
    """Rejected applications decided before the cutoff, and drafts (consent
    withdrawn, or never submitted) untouched since then. Approved ones belong to
    a member and follow the member."""
    return MembershipApplication.objects.filter(
        Q(status=ApplicationStatus.REJECTED, decided_at__lt=cutoff)
        | Q(status=ApplicationStatus.DRAFT, updated_at__lt=cutoff)
    )


def _applications_apply(cutoff: datetime, now: datetime, chunk: int) -> int:
    return run_in_chunks(
        _ended_applications(cutoff),
        chunk,
        lambda ids: applications_delete(ids=ids, reason="保存期限届满"),
    )


def _ex_members(cutoff: datetime) -> QuerySet:
    """Members whose membership ended before the cutoff and who are not yet
    anonymised. `left_at` is set when the status changes through the portal;
    rows changed another way fall back to `updated_at` (later, never earlier)."""
    return Member.objects.filter(
        status__in=EX_MEMBER_STATUSES, anonymised_at__isnull=True
    ).filter(Q(left_at__lt=cutoff) | Q(left_at__isnull=True, updated_at__lt=cutoff))


def _members_apply(cutoff: datetime, now: datetime, chunk: int) -> int:
    return run_in_chunks(
        _ex_members(cutoff),
        chunk,
        lambda ids: members_anonymise(ids=ids, reason="保存期限届满", now=now),
    )


def _fast_delete(qs_for: Callable[[datetime], QuerySet]):
    """A category whose rows nothing references. On PostgreSQL one statement per
    chunk, no ids through Python:
    WITH picked AS (SELECT id … WHERE id > last ORDER BY id LIMIT chunk
                    FOR UPDATE SKIP LOCKED),
         gone AS (DELETE … WHERE id IN (SELECT id FROM picked) RETURNING id)
    SELECT count(*), max(id) FROM gone.
    Elsewhere the generic pick-then-delete chunks."""

    def apply(cutoff: datetime, now: datetime, chunk: int) -> int:
        qs = qs_for(cutoff)
        model = qs.model
        if connection.vendor != "postgresql":
            return run_in_chunks(
                qs,
                chunk,
                lambda ids: model.objects.filter(pk__in=ids)._raw_delete(
                    model.objects.db
                ),
            )
        table = connection.ops.quote_name(model._meta.db_table)
        total = 0
        last = 0
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                picked = (
                    qs.filter(pk__gt=last)
                    .order_by("pk")
                    .select_for_update(skip_locked=True, of=("self",))
                    .values("pk")[:chunk]
                )
                sql, params = picked.query.sql_with_params()
                cursor.execute(
                    f"""
                    WITH picked AS ({sql}),
                         gone AS (DELETE FROM {table}
                                  WHERE id IN (SELECT * FROM picked) RETURNING id)
                    SELECT count(*), max(id) FROM gone
                    """,  # noqa: S608 - SQL compiled by the ORM, table from metadata
                    params,
                )
                done, highest = cursor.fetchone()
            total += done
            if done < chunk:
                return total
            last = highest

    return apply


def _stale_codes(cutoff: datetime) -> QuerySet:
    return OneTimeCode.objects.filter(created_at__lt=cutoff)


def _old_notices(cutoff: datetime) -> QuerySet:
    """Finished outbox rows (inbox messages, delivered or dead SMS/e-mail): their
    params can hold staff replies and reasons. Pending or sending rows are never
    touched."""
    return Notification.objects.filter(
        created_at__lt=cutoff,
        status__in=(
            NotificationStatus.SENT,
            NotificationStatus.SKIPPED,
            NotificationStatus.DEAD,
        ),
    )


register_retention_category(
    RetentionCategory(
        code="membership_applications",
        label="未通过/已撤回的入会申请",
        action=ACTION_DELETE,
        days_setting="RETENTION_APPLICATION_DAYS",
        count=lambda cutoff: _ended_applications(cutoff).count(),
        apply=_applications_apply,
    )
)
register_retention_category(
    RetentionCategory(
        code="ex_members",
        label="已离会人员(退会/失效/开除)",
        action=ACTION_ANONYMISE,
        days_setting="RETENTION_EX_MEMBER_DAYS",
        count=lambda cutoff: _ex_members(cutoff).count(),
        apply=_members_apply,
    )
)
register_retention_category(
    RetentionCategory(
        code="otp_codes",
        label="短信验证码记录",
        action=ACTION_DELETE,
        days_setting="RETENTION_OTP_DAYS",
        count=lambda cutoff: _stale_codes(cutoff).count(),
        apply=_fast_delete(_stale_codes),
    )
)
register_retention_category(
    RetentionCategory(
        code="notifications",
        label="已发送/已结束的通知",
        action=ACTION_DELETE,
        days_setting="RETENTION_NOTIFICATION_DAYS",
        count=lambda cutoff: _old_notices(cutoff).count(),
        apply=_fast_delete(_old_notices),
    )
)


# --- the run ------------------------------------------------------------------


class _RunLock:
    """Session-level advisory lock on PostgreSQL (chunks commit separately, so a
    transaction lock would not cover the run); a no-op elsewhere."""

    def __enter__(self) -> bool:
        if connection.vendor != "postgresql":
            return True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [_LOCK_KEY])
            self.held = bool(cursor.fetchone()[0])
        return self.held

    def __exit__(self, *exc) -> None:
        if connection.vendor == "postgresql" and getattr(self, "held", False):
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])


def retention_run(
    *, now: datetime | None = None, dry_run: bool = False
) -> list[RetentionResult]:
    """Apply every registered category at `now` (default: the current time).

    `dry_run` only counts what is due. Returns one result per category. If
    another run holds the lock, returns [] and changes nothing (that run does
    the work)."""
    now = now or timezone.now()
    chunk = int(settings.RETENTION_CHUNK)
    results: list[RetentionResult] = []
    with _RunLock() as held:
        if not held:
            log.info("retention run skipped: another run holds the lock")
            return []
        for category in retention_categories():
            cutoff = now - timedelta(days=category.days)
            if dry_run:
                count = category.count(cutoff)
            else:
                count = category.apply(cutoff, now, chunk)
                if count:
                    with transaction.atomic():
                        audit_record(
                            action=category.action,
                            object_type=category.code,
                            reason="保存期限届满",
                            detail={
                                "policy": "PI8",
                                "category": category.code,
                                "count": count,
                                "days": category.days,
                                "cutoff": cutoff.isoformat(),
                                "run_at": now.isoformat(),
                            },
                        )
            results.append(
                RetentionResult(
                    category=category.code,
                    action=category.action,
                    days=category.days,
                    cutoff=cutoff,
                    count=count,
                )
            )
    if not dry_run:
        log.info(
            "retention run",
            extra={"counts": {r.category: r.count for r in results}},
        )
    return results
