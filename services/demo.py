"""Demo data for member services (called by `manage.py seed_demo`)."""

from __future__ import annotations


def seed(*, stdout) -> list:
    return []
