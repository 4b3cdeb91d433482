"""Sections that other apps add to a worker's personal data export (/me/export/).

The members app depends on no other app (architecture.md), yet a worker's copy of
their data (PIPL art. 45) must include what services holds about them: their
program enrollments today, relief applications next. Each app registers a
builder in its `AppConfig.ready()`; `personal_data_export` calls every builder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from members.models import Member, User

ExportBuilder = Callable[..., Any]  # (*, user: User, member: Member | None) -> JSON

_SECTIONS: dict[str, ExportBuilder] = {}


def register_export_section(name: str, builder: ExportBuilder) -> None:
    if name in _SECTIONS:
        raise ValueError(f"export section {name!r} registered twice")
    _SECTIONS[name] = builder


def export_sections(*, user: User, member: Member | None) -> dict[str, Any]:
    return {
        name: builder(user=user, member=member)
        for name, builder in sorted(_SECTIONS.items())
    }
