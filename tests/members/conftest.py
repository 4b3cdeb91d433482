"""Fixtures for the members tests: the seeded Shenzhen tree and reviewers with
the review permissions."""

from __future__ import annotations

import pytest

from tests.factories import make_staff
from tests.members.factories import REVIEWER_PERMS


@pytest.fixture
def sz(db):
    """The seeded tree (idempotent, so it also works after a flush)."""
    from members.models import RegionCode, UnionOrg
    from members.reference_data import seed_region_codes, seed_union_tree

    seed_region_codes(RegionCode=RegionCode)
    return seed_union_tree(UnionOrg=UnionOrg)


@pytest.fixture
def nanshan_pool(sz):
    return sz["440305_pool"]


@pytest.fixture
def futian_pool(sz):
    return sz["440304_pool"]


@pytest.fixture
def rv_nanshan(sz):
    return make_staff(org=sz["440305"], perms=REVIEWER_PERMS, username="rv_nanshan")


@pytest.fixture
def rv_futian(sz):
    return make_staff(org=sz["440304"], perms=REVIEWER_PERMS, username="rv_futian")


@pytest.fixture
def rv_city(sz):
    return make_staff(
        org=sz["city"],
        perms=(*REVIEWER_PERMS, "members.view_sensitive"),
        username="rv_city",
    )
