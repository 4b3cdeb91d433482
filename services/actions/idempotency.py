"""Idempotency-Key handling for the platform's bulk POSTs (security.md AP5, F6/F7).

`idempotency_begin` claims (platform, key) with a unique row before any work is
done. Same key + same request hash after completion -> replay the stored response;
same key while the first request is still being accepted -> 409; same key with a
different body -> 422. A request that fails validation releases its key (as
Stripe does: nothing was executed), so the platform can fix the file and retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from members.models import Platform
from portal.exceptions import ApplicationError, ConflictError
from services.models import IdempotencyRecord, IdempotencyState

RETENTION = timedelta(hours=48)  # >= 24 h promised in docs/api.md
# A claim older than this whose request never completed (the process died
# between claiming and answering) may be taken over by a retry.
ABANDONED_AFTER = timedelta(minutes=2)


class IdempotencyMismatch(ApplicationError):
    """Same key, different request (HTTP 422)."""


@dataclass(frozen=True)
class Claim:
    record: IdempotencyRecord | None  # set when this request owns the key
    replay: IdempotencyRecord | None  # set when a stored response must be replayed


def idempotency_begin(*, platform: Platform, key: str, request_hash: str) -> Claim:
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                platform=platform, key=key, request_hash=request_hash
            )
        return Claim(record=record, replay=None)
    except IntegrityError:
        pass
    record = IdempotencyRecord.objects.get(platform=platform, key=key)
    if record.request_hash != request_hash:
        raise IdempotencyMismatch(
            "该 Idempotency-Key 已用于另一个不同的请求。", code="idempotency_mismatch"
        )
    if record.state == IdempotencyState.DONE:
        return Claim(record=None, replay=record)
    stale = timezone.now() - ABANDONED_AFTER
    taken = IdempotencyRecord.objects.filter(
        pk=record.pk, state=IdempotencyState.IN_FLIGHT, created_at__lt=stale
    ).update(created_at=timezone.now())
    if taken:
        record.refresh_from_db()
        return Claim(record=record, replay=None)
    raise ConflictError(
        "使用该 Idempotency-Key 的请求仍在处理中,请稍后重试。",
        code="idempotency_in_flight",
    )


def idempotency_complete(
    *, record: IdempotencyRecord, status: int, body: bytes, headers: dict
) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyState.DONE,
        response_status=status,
        response_body=body,
        response_headers=headers,
        completed_at=timezone.now(),
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    IdempotencyRecord.objects.filter(
        pk=record.pk, state=IdempotencyState.IN_FLIGHT
    ).delete()


def idempotency_purge() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - RETENTION
    ).delete()
    return deleted
