"""Display helpers for protection programs: amounts as ¥30,000.00, stored
reasons in the reader's language."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

from services.selectors.eligibility import REASON_SEPARATOR, reason_display

register = template.Library()


@register.filter
def yuan(value) -> str:
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return ""
    return f"¥{amount:,.2f}"


@register.filter
def reason_text(value: str) -> str:
    """An eligibility reason, an unverified-condition label or a stored status
    reason (several joined by ";") in the active language."""
    if not value:
        return ""
    return "; ".join(map(reason_display, value.split(REASON_SEPARATOR)))


@register.filter
def reasons_display(value: str) -> list[str]:
    """A stored `status_reason` (`reason1;reason2`, or `经…:reason1;reason2`
    after a staff decision) as a list of reasons in the active language."""
    if not value:
        return []
    head, sep, rest = value.partition(":")
    if sep and reason_display(head) != head:
        return [reason_display(head), *reasons_display(rest)]
    return [
        reason_display(part) for part in value.split(REASON_SEPARATOR) if part.strip()
    ]
