"""Per-request facts (request id, client IP, actor) that audit rows and logs need."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    ip: str | None
    user_id: int | None = None


_current: ContextVar[RequestContext | None] = ContextVar(
    "request_context", default=None
)


def current() -> RequestContext | None:
    return _current.get()


def set_current(ctx: RequestContext | None):
    return _current.set(ctx)


def reset(token) -> None:
    _current.reset(token)
