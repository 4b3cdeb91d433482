"""The outbox contract every part of the portal uses to notify people.

Call these inside the transaction of the event that causes the notice: the row
commits or rolls back with it. Delivery (quiet hours, opt-out, retries, dead
letters) belongs to the dispatcher, not to callers.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Choices, F, QuerySet
from django.utils import timezone, translation

from members.audit import audit_record
from members.models import (
    Member,
    Notification,
    NotificationCategory,
    NotificationChannel,
    NotificationStatus,
    User,
)
from members.notification_channels import (
    PermanentDeliveryError,
    TransientDeliveryError,
    email_deliver,
    recipient_email,
    recipient_phone,
    sms_deliver,
    sms_lookup,
)
from members.notification_templates import TemplateError, render
from members.sms import get_sms_backend
from portal.masking import mask_text


@dataclass(frozen=True)
class NoticeSpec:
    """One notice to enqueue. `params` must not contain raw personal data."""

    template_code: str
    channel: str
    dedupe_key: str
    user_id: int | None = None
    member_id: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    category: str = NotificationCategory.SERVICE
    due_at: datetime | None = None
    # Send to this number instead of the recipient's own (encrypted at rest).
    to_phone: str = ""


def choice_label(choices: type[Choices], value: str) -> str:
    """A choice's Chinese label for a notice's params (SMS templates are
    approved in Chinese; the reader sees 退会 or 要求说明自动判断的理由, not
    `withdrawal` or `explanation`). Stored in the params, so the text does not
    depend on the language active when the notice is rendered."""
    with translation.override("zh-hans"):
        return str(choices(value).label)


def notification_enqueue(
    *,
    template_code: str,
    dedupe_key: str,
    channel: str = NotificationChannel.INBOX,
    user: User | None = None,
    member: Member | None = None,
    params: dict[str, Any] | None = None,
    category: str = NotificationCategory.SERVICE,
    due_at: datetime | None = None,
    to_phone: str = "",
) -> None:
    """Store one notice; a second call with the same dedupe_key stores nothing
    (INSERT ... ON CONFLICT DO NOTHING)."""
    notifications_enqueue_many(
        specs=[
            NoticeSpec(
                template_code=template_code,
                channel=channel,
                dedupe_key=dedupe_key,
                user_id=user.pk if user else None,
                member_id=member.pk if member else None,
                params=params or {},
                category=category,
                due_at=due_at,
                to_phone=to_phone,
            )
        ]
    )


def notifications_enqueue_many(
    *, specs: Iterable[NoticeSpec], batch_size: int = 5000
) -> None:
    """Set-based enqueue for fan-out (nightly re-checks, platform batches)."""
    now = timezone.now()
    rows = [
        Notification(
            user_id=spec.user_id,
            member_id=spec.member_id,
            channel=spec.channel,
            category=spec.category,
            template_code=spec.template_code,
            params=spec.params,
            dedupe_key=spec.dedupe_key,
            due_at=spec.due_at or now,
            to_phone=spec.to_phone,
        )
        for spec in specs
    ]
    Notification.objects.bulk_create(rows, batch_size=batch_size, ignore_conflicts=True)


# --- Delivery: dispatcher → send batch → sweeper ----------------------------------
#
# Guarantees (docs/architecture.md, "Notifications"):
# * claim (dispatcher): pending → sending under a fresh claim token, set-based with
#   FOR UPDATE SKIP LOCKED, so two dispatchers (duplicate beat ticks) never claim
#   the same row. Publishing the batch is at-least-once: a batch whose message is
#   lost (Redis wipe, dispatcher killed after commit) is returned to pending by
#   the sweeper.
# * send: each row is locked and marked `gateway_started_at` in a committed
#   transaction *before* the gateway call (the ledger mark); only the holder of the
#   current claim token can set it, and only once. So a duplicate task message, a
#   second copy of the batch or a stale task after a sweep never calls the gateway
#   for that row: the gateway call itself is at-most-once per claim.
# * outcome: written after the call, guarded by the claim token. A worker killed
#   between the mark and the outcome leaves an ambiguous row that the sweeper
#   settles by asking the gateway (`lookup(out_id)`); if the gateway cannot tell,
#   legal notices are re-sent (at-least-once) and everything else is
#   dead-lettered as "outcome unknown" (at-most-once: never spam a worker).

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
OUTCOME_UNKNOWN = "outcome_unknown: worker died during the gateway call"


def _setting(name: str, default):
    return getattr(settings, name, default)


def quiet_hours_end(*, now: datetime) -> datetime | None:
    """When `now` is inside the reminder quiet hours (21:00–08:00 Asia/Shanghai by
    default), the end of them; otherwise None."""
    start_hour, end_hour = _setting("NOTIFICATION_QUIET_HOURS", (21, 8))
    local = now.astimezone(SHANGHAI)
    if local.hour >= start_hour:
        day = local.date() + timedelta(days=1)
    elif local.hour < end_hour:
        day = local.date()
    else:
        return None
    return datetime.combine(day, time(end_hour), tzinfo=SHANGHAI)


def retry_delay_seconds(*, attempts: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter, capped (security.md CE4): the retry is
    a later `due_at` in the database, never a Celery countdown (CE3)."""
    base = _setting("NOTIFICATION_RETRY_BASE_SECONDS", 30)
    cap = _setting("NOTIFICATION_RETRY_MAX_SECONDS", 600)
    ceiling = min(cap, base * 2 ** max(attempts - 1, 0))
    return (rng or _rng).uniform(ceiling / 2, ceiling)


_rng = random.SystemRandom()


def notifications_claim_due(
    *, limit: int, now: datetime | None = None
) -> tuple[uuid.UUID, list[int]]:
    """Claim up to `limit` due pending rows for one batch: pending → sending with a
    new claim token. Must run inside the caller's transaction."""
    now = now or timezone.now()
    token = uuid.uuid4()
    if connection.vendor == "postgresql":
        return token, _claim_due_postgresql(limit=limit, now=now, token=token)
    return token, _claim_due_portable(limit=limit, now=now, token=token)


def _claim_due_postgresql(*, limit: int, now: datetime, token: uuid.UUID) -> list[int]:
    table = connection.ops.quote_name(Notification._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} SET status = %s, claimed_at = %s, claim_token = %s::uuid
            WHERE id IN (
                SELECT id FROM {table}
                WHERE status = %s AND due_at <= %s
                ORDER BY due_at
                LIMIT %s
                FOR UPDATE SKIP LOCKED
            )
            RETURNING id
            """,  # noqa: S608 - the table name comes from the model, not input
            [
                NotificationStatus.SENDING,
                now,
                str(token),
                NotificationStatus.PENDING,
                now,
                limit,
            ],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _claim_due_portable(*, limit: int, now: datetime, token: uuid.UUID) -> list[int]:
    """SQLite (and any backend): SQLite's IMMEDIATE transactions serialise writers,
    and the conditional UPDATE (status still pending) makes a concurrent claim a
    no-op elsewhere too."""
    candidates = list(
        Notification.objects.filter(status=NotificationStatus.PENDING, due_at__lte=now)
        .order_by("due_at")
        .values_list("id", flat=True)[:limit]
    )
    if not candidates:
        return []
    Notification.objects.filter(
        id__in=candidates, status=NotificationStatus.PENDING
    ).update(status=NotificationStatus.SENDING, claimed_at=now, claim_token=token)
    return sorted(
        Notification.objects.filter(id__in=candidates, claim_token=token).values_list(
            "id", flat=True
        )
    )


def _relaxed_commit() -> None:
    """PostgreSQL: don't wait for the WAL flush of *this* transaction.

    Only for the claim and the outcome: if the server crashes and loses one, a
    claim reverts to pending (the published batch then finds a foreign token and
    skips), an outcome reverts to "marked, sending", which the sweeper settles.
    The ledger mark before the gateway call keeps the default (durable) commit.
    Applied only when our atomic block is the outermost one, so a caller's own
    transaction is never relaxed."""
    if connection.vendor == "postgresql" and not connection.savepoint_ids:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def notifications_dispatch(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
) -> int:
    """Claim due rows batch by batch and hand each batch (ids + claim token) to the
    send task after its claim commits. Returns the number of rows claimed."""
    from members.tasks.notifications import (
        notification_send_batch as notification_send_batch_task,
    )

    batch_size = batch_size or _setting("NOTIFICATION_BATCH_SIZE", 500)
    max_batches = max_batches or _setting("NOTIFICATION_DISPATCH_MAX_BATCHES", 400)
    claimed = 0
    for _ in range(max_batches):
        with transaction.atomic():
            _relaxed_commit()
            token, ids = notifications_claim_due(limit=batch_size, now=now)
            if not ids:
                break
            transaction.on_commit(
                partial(notification_send_batch_task.delay, ids, str(token))
            )
        claimed += len(ids)
        if len(ids) < batch_size:
            break
    return claimed


def _recipient_member(row: Notification) -> Member | None:
    if row.member_id is not None:
        return row.member
    if row.user_id is not None:
        return getattr(row.user, "member", None)
    return None


def _inbox_user_id(row: Notification) -> int | None:
    if row.user_id is not None:
        return row.user_id
    return row.member.user_id if row.member is not None else None


def notifications_send_batch(
    *,
    ids: list[int],
    claim_token: str | uuid.UUID,
    now: datetime | None = None,
    sms_backend=None,
) -> Counter:
    """Deliver one claimed batch, chunk by chunk. Safe to run twice or concurrently
    with itself: rows not held under `claim_token` or already marked by the other
    copy are skipped (after waiting for its short lock). `now` freezes the clock
    (quiet hours) in tests."""
    chunk_size = _setting("NOTIFICATION_SEND_CHUNK", 50)
    backend = sms_backend or get_sms_backend()
    totals: Counter = Counter()
    for start in range(0, len(ids), chunk_size):
        totals.update(
            _send_chunk(
                ids=ids[start : start + chunk_size],
                token=uuid.UUID(str(claim_token)),
                now=now,
                backend=backend,
            )
        )
    return totals


_SEND_FIELDS = (
    "id",
    "channel",
    "category",
    "template_code",
    "params",
    "to_phone",
    "due_at",
    "status",
    "attempts",
    "claim_token",
    "claimed_at",
    "gateway_started_at",
    "last_error",
    "sent_at",
    "member__phone",
    "member__reminders_opt_out",
    "member__user_id",
    "user__phone",
    "user__email",
    "user__member__reminders_opt_out",
)


def _send_chunk(*, ids, token, now, backend) -> Counter:
    counts: Counter = Counter()
    clock = now or timezone.now()
    to_call: list[Notification] = []
    with transaction.atomic():
        # Wait for row locks rather than skip them: a concurrent claim's
        # `FOR UPDATE SKIP LOCKED` scan can keep a lock on a row it then rejects
        # (already claimed by us) until its transaction ends; skipping would strand
        # that row in `sending` until the sweeper. Every holder is short (claims,
        # a duplicate copy's ledger mark; no gateway call happens under a lock)
        # and rows are locked in id order, so two copies cannot deadlock; after
        # the wait the filter below re-checks the row (gateway_started_at).
        rows = list(
            Notification.objects.select_for_update(of=("self",))
            .select_related("member", "user", "user__member")
            .only(*_SEND_FIELDS)  # e.g. never decrypt the ID number to send an SMS
            .order_by("id")
            .filter(
                id__in=ids,
                status=NotificationStatus.SENDING,
                claim_token=token,
                gateway_started_at__isnull=True,
            )
        )
        final: dict[str, list[Notification]] = defaultdict(list)
        for row in rows:
            if row.channel == NotificationChannel.INBOX:
                user_id = _inbox_user_id(row)
                if user_id is None:
                    row.last_error = "no_account"
                    final["dead"].append(row)
                else:
                    row.user_id = user_id
                    final["sent"].append(row)
                continue
            if row.channel == NotificationChannel.SMS and (
                row.category == NotificationCategory.REMINDER
            ):
                member = _recipient_member(row)
                if member is not None and member.reminders_opt_out:
                    final["skipped"].append(row)
                    continue
                defer_to = quiet_hours_end(now=clock)
                if defer_to is not None:
                    row.due_at = defer_to
                    final["deferred"].append(row)
                    continue
            problem = _precheck(row)
            if problem:
                row.last_error = problem
                final["dead"].append(row)
                continue
            to_call.append(row)
        _write_final(final, token=token, now=clock)
        for key, group in final.items():
            counts[key] += len(group)
        if to_call:
            # The ledger mark: committed before any gateway call (at-most-once).
            Notification.objects.filter(id__in=[r.pk for r in to_call]).update(
                gateway_started_at=clock, attempts=F("attempts") + 1
            )
    if not to_call:
        return counts

    sent: list[Notification] = []
    failed: list[tuple[Notification, Exception]] = []
    for row, error in _call_gateways(to_call, backend=backend):
        if error is None:
            sent.append(row)
        else:
            failed.append((row, error))
    counts.update(_write_outcomes(sent=sent, failed=failed, token=token))
    return counts


def _deliver_one(row: Notification, backend) -> Exception | None:
    try:
        if row.channel == NotificationChannel.SMS:
            sms_deliver(row, backend=backend)
        else:
            email_deliver(row)
    except (TransientDeliveryError, PermanentDeliveryError) as exc:
        return exc
    return None


def _call_gateways(rows: list[Notification], *, backend):
    """Gateway calls are network-bound: run up to NOTIFICATION_SEND_THREADS at
    once (SMS backends must be thread-safe). No database access happens here."""
    threads = min(_setting("NOTIFICATION_SEND_THREADS", 8), len(rows))
    if threads <= 1:
        return [(row, _deliver_one(row, backend)) for row in rows]
    # One future per thread, each working through its own slice: far less
    # scheduling overhead than one future per message.
    slices = [rows[i::threads] for i in range(threads)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        done = pool.map(
            lambda part: [(row, _deliver_one(row, backend)) for row in part], slices
        )
        return [pair for part in done for pair in part]


def _precheck(row: Notification) -> str:
    try:
        # kept on the instance so the SMS channel does not render twice
        row.rendered_text = render(row.template_code, row.params)[1]
    except TemplateError as exc:
        return str(exc)[:300]
    if row.channel == NotificationChannel.SMS and not recipient_phone(row):
        return "no_phone"
    if row.channel == NotificationChannel.EMAIL:
        # resolved here, in the worker's main thread: gateway threads never query
        row.email_address = recipient_email(row)
        if not row.email_address:
            return "no_email"
    if row.channel not in NotificationChannel.values:
        return f"unknown channel {row.channel!r}"
    return ""


def _owned(token) -> QuerySet[Notification]:
    return Notification.objects.filter(
        status=NotificationStatus.SENDING, claim_token=token
    )


def _write_final(final: dict[str, list[Notification]], *, token, now) -> None:
    if final.get("sent"):
        for row in final["sent"]:
            row.status = NotificationStatus.SENT
            row.sent_at = now
            row.last_error = ""
        _owned(token).bulk_update(
            final["sent"], ["status", "sent_at", "last_error", "user"]
        )
    if final.get("skipped"):
        _owned(token).filter(pk__in=[r.pk for r in final["skipped"]]).update(
            status=NotificationStatus.SKIPPED, last_error="reminders_opt_out"
        )
    if final.get("deferred"):
        for row in final["deferred"]:
            row.status = NotificationStatus.PENDING
            row.claim_token = None
            row.claimed_at = None
        _owned(token).bulk_update(
            final["deferred"], ["status", "due_at", "claim_token", "claimed_at"]
        )
    if final.get("dead"):
        for row in final["dead"]:
            row.status = NotificationStatus.DEAD
        _owned(token).bulk_update(final["dead"], ["status", "last_error"])
        _alert_dead(final["dead"])


def _write_outcomes(*, sent, failed, token) -> Counter:
    counts: Counter = Counter()
    now = timezone.now()
    max_attempts = _setting("NOTIFICATION_MAX_ATTEMPTS", 5)
    with transaction.atomic():
        _relaxed_commit()
        if sent:
            counts["sent"] = (
                _owned(token)
                .filter(pk__in=[r.pk for r in sent])
                .update(status=NotificationStatus.SENT, sent_at=now, last_error="")
            )
        retry, dead = [], []
        for row, exc in failed:
            row.attempts += 1  # the in-memory copy predates the ledger mark
            # A gateway's error text may echo the number it was given.
            row.last_error = mask_text(f"{type(exc).__name__}: {exc}")[:300]
            if isinstance(exc, TransientDeliveryError) and row.attempts < max_attempts:
                row.status = NotificationStatus.PENDING
                row.due_at = now + timedelta(
                    seconds=retry_delay_seconds(attempts=row.attempts)
                )
                row.claim_token = None
                row.claimed_at = None
                row.gateway_started_at = None  # the gateway refused: nothing sent
                retry.append(row)
            else:
                row.status = NotificationStatus.DEAD
                dead.append(row)
        if retry:
            _owned(token).bulk_update(
                retry,
                [
                    "status",
                    "due_at",
                    "claim_token",
                    "claimed_at",
                    "gateway_started_at",
                    "last_error",
                ],
            )
            counts["retry"] = len(retry)
        if dead:
            _owned(token).bulk_update(dead, ["status", "last_error"])
            counts["dead"] = len(dead)
    if dead:
        _alert_dead(dead)
    return counts


def _alert_dead(rows: list[Notification]) -> None:
    logger.error(
        "notifications dead-lettered",
        extra={
            "count": len(rows),
            "notification_ids": [r.pk for r in rows][:50],
            "errors": sorted({r.last_error for r in rows})[:10],
        },
    )


def notifications_sweep_stuck(
    *,
    older_than: timedelta | None = None,
    now: datetime | None = None,
    sms_backend=None,
) -> Counter:
    """Return rows stuck in `sending` (security.md CE9) for longer than
    `older_than` (default NOTIFICATION_STUCK_MINUTES, longer than the hard task
    time limit, so their task is certainly gone).

    * no ledger mark → the gateway was never called under this claim: back to
      pending (at-least-once; covers a lost batch message and a Redis wipe);
    * ledger mark, no outcome → ask the gateway (`lookup(out_id)`): accepted → sent,
      not accepted → pending. If it cannot tell: legal notices → pending (re-sent,
      at-least-once), others → dead "outcome unknown" (at-most-once).
    """
    now = now or timezone.now()
    if older_than is None:
        older_than = timedelta(minutes=_setting("NOTIFICATION_STUCK_MINUTES", 10))
    cutoff = now - older_than
    counts: Counter = Counter()
    stuck = Notification.objects.filter(
        status=NotificationStatus.SENDING, claimed_at__lte=cutoff
    )
    counts["requeued"] = stuck.filter(gateway_started_at__isnull=True).update(
        status=NotificationStatus.PENDING, claim_token=None, claimed_at=None
    )
    backend = None
    for row in stuck.filter(gateway_started_at__isnull=False).only(
        "id", "channel", "category", "claim_token"
    ):
        accepted = None
        if row.channel == NotificationChannel.SMS:
            backend = backend or sms_backend or get_sms_backend()
            accepted = sms_lookup(row.out_id, backend=backend)
        guard = Notification.objects.filter(
            pk=row.pk, status=NotificationStatus.SENDING, claim_token=row.claim_token
        )
        if accepted:
            counts["sent"] += guard.update(
                status=NotificationStatus.SENT, sent_at=now, last_error=""
            )
        elif accepted is False or row.category == NotificationCategory.LEGAL:
            counts["requeued"] += guard.update(
                status=NotificationStatus.PENDING,
                claim_token=None,
                claimed_at=None,
                gateway_started_at=None,
            )
        else:
            dead = guard.update(
                status=NotificationStatus.DEAD, last_error=OUTCOME_UNKNOWN
            )
            counts["dead"] += dead
            if dead:
                _alert_dead([row])
    if counts["requeued"] or counts["dead"]:
        logger.warning("notifications swept", extra=dict(counts))
    return counts


@transaction.atomic
def notifications_requeue_dead(
    *, ids: Iterable[int], actor: User, now: datetime | None = None
) -> int:
    """Staff put dead letters back into the queue (admin action); audited."""
    ids = list(ids)
    count = Notification.objects.filter(
        pk__in=ids, status=NotificationStatus.DEAD
    ).update(
        status=NotificationStatus.PENDING,
        attempts=0,
        due_at=now or timezone.now(),
        claim_token=None,
        claimed_at=None,
        gateway_started_at=None,
        last_error="",
    )
    audit_record(
        action="notification_requeue",
        actor=actor,
        object_type="notification",
        detail={"ids": ids[:100], "count": count},
    )
    return count


# --- Inbox (站内信) and preferences -------------------------------------------------


def notification_mark_read(
    *, user: User, notification_id: int, now: datetime | None = None
) -> bool:
    """Mark one of the user's own inbox messages read; False if not theirs."""
    found = Notification.objects.filter(
        pk=notification_id,
        user=user,
        channel=NotificationChannel.INBOX,
        status=NotificationStatus.SENT,
    )
    if not found.exists():
        return False
    found.filter(read_at__isnull=True).update(read_at=now or timezone.now())
    return True


def notifications_mark_all_read(*, user: User, now: datetime | None = None) -> int:
    return Notification.objects.filter(
        user=user,
        channel=NotificationChannel.INBOX,
        status=NotificationStatus.SENT,
        read_at__isnull=True,
    ).update(read_at=now or timezone.now())


@transaction.atomic
def member_set_reminders_opt_out(*, member: Member, opt_out: bool) -> Member:
    """Members may opt out of reminder SMS; legal notices are always sent."""
    locked = Member.objects.select_for_update().get(pk=member.pk)
    if locked.reminders_opt_out == opt_out:
        return locked
    locked.reminders_opt_out = opt_out
    locked.save(update_fields=["reminders_opt_out", "updated_at"])
    audit_record(
        action="reminders_opt_out" if opt_out else "reminders_opt_in",
        actor=locked.user,
        member=locked,
        object_type="member",
        object_id=locked.pk,
    )
    return locked
