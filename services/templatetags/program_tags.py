"""Display helpers for protection programs: amounts as ¥30,000.00, and the
stored Chinese eligibility / status reasons in the reader's language."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import cache

from django import template
from django.utils.translation import gettext

register = template.Library()


@register.filter
def yuan(value) -> str:
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return ""
    return f"¥{amount:,.2f}"


def _known_reasons() -> list[str]:
    from services.actions import programs as actions
    from services.selectors import eligibility

    return [
        getattr(module, name)
        for module in (eligibility, actions)
        for name in dir(module)
        if name.startswith("REASON_") and isinstance(getattr(module, name), str)
    ]


@cache
def _reason_patterns() -> list[tuple[re.Pattern[str], str]]:
    """Each known reason as a regex: `{low}` and the like match digits."""
    patterns = []
    for text in _known_reasons():
        parts = re.split(r"\{(\w+)\}", text)
        regex = "".join(
            f"(?P<{part}>\\d+)" if index % 2 else re.escape(part)
            for index, part in enumerate(parts)
        )
        patterns.append((re.compile(f"^{regex}$"), text))
    return patterns


def reason_display(text: str) -> str:
    """One stored reason, translated; unknown text (typed by staff, or from an
    older version) is shown as stored."""
    text = text.strip()
    for pattern, msgid in _reason_patterns():
        match = pattern.match(text)
        if match:
            return gettext(msgid).format(**match.groupdict())
    return text


@register.filter
def reasons_display(value: str) -> list[str]:
    """A stored `status_reason` (`reason1;reason2`, or `经…:reason1;reason2`
    after a staff decision) as a list of translated reasons."""
    if not value:
        return []
    head, sep, rest = value.partition(":")
    if sep and reason_display(head) != head:
        return [reason_display(head), *reasons_display(rest)]
    return [reason_display(part) for part in value.split(";") if part.strip()]
