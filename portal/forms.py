"""Helpers shared by the worker-facing forms."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext_lazy as _

BLANK_CHOICE_LABEL = _("请选择")


def with_blank_choice(choices: Iterable[tuple]) -> list[tuple]:
    """`choices` behind an empty "请选择" option, for a required select where
    showing the first real option would put a guess in the worker's answer
    (occupation, employment category, district, ...). The field stays required:
    the empty value is refused with the usual "required" message, and Django then
    renders the `required` attribute on the select (HTML wants an empty first
    option for that)."""
    return [("", BLANK_CHOICE_LABEL), *choices]
