"""Writing audit rows. Call `audit_record` inside the action's transaction, so the
row commits or rolls back with the change it describes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from members.models import AuditLog, Member, User
from portal.masking import mask_text
from portal.request_context import current


def _role(user: User | None) -> str:
    if user is None:
        return "system"
    if user.is_superuser:
        return "admin"
    if user.is_staff:
        return "staff"
    return "worker"


# Ids of the rows `audit_record` wrote inside an `audit_rows_written()` block.
_written: ContextVar[list[int] | None] = ContextVar("audit_rows_written", default=None)


@contextmanager
def audit_rows_written() -> Iterator[list[int]]:
    """Collect the ids of the rows `audit_record` writes inside the block (the
    admin action wrapper uses it to tell whether an action audited itself).
    Rows of a transaction that rolled back are listed too: check they exist."""
    collected: list[int] = []
    token = _written.set(collected)
    try:
        yield collected
    finally:
        _written.reset(token)


def audit_record(**fields: Any) -> AuditLog:
    """Write one audit row now; takes the keyword arguments of `audit_row`."""
    row = audit_row(**fields)
    row.save(force_insert=True)
    collected = _written.get()
    if collected is not None:
        collected.append(row.pk)
    return row


def audit_row(
    *,
    action: str,
    actor: User | None = None,
    member: Member | None = None,
    object_type: str = "",
    object_id: Any = "",
    field: str = "",
    reason: str = "",
    outcome: str = AuditLog.Outcome.SUCCESS,
    detail: dict | None = None,
    role: str | None = None,
    member_id: int | None = None,
) -> AuditLog:
    """An unsaved row with the request's client IP and request id, for callers
    that write many at once (`AuditLog.objects.bulk_create`)."""
    ctx = current()
    row = AuditLog(
        actor=actor if actor is not None and actor.pk else None,
        actor_role=role or _role(actor),
        ip=ctx.ip if ctx else None,
        request_id=ctx.request_id if ctx else "",
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        member_id=member_id,
        field=field,
        # Staff type reasons freely: an ID number or mobile in one is masked (LG2).
        reason=mask_text(reason)[:200],
        outcome=outcome,
        detail=detail or {},
    )
    if member is not None:
        row.member = member
    return row
