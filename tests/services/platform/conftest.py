"""Personas of the platform API: two platforms (Meituan-like `alpha`, `beta`) with
keys, the E路守护-like program and the gig-worker union pools of Shenzhen."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from members.actions.api_keys import platform_key_issue, platform_networks_set
from members.ip_allowlist import LOOPBACK
from services.models import EnrollmentMode, Program


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def futian_gig_pool(sz_tree):
    return sz_tree["440304_pool"]


@pytest.fixture
def program(shenzhen, nanshan_gig_pool, futian_gig_pool):
    return Program.objects.create(
        code="e-road",
        name="E路守护",
        sponsor_org=shenzhen,
        region_prefix="4403",
        enrollment_mode=EnrollmentMode.NAMED,
        starts_on=date(2021, 1, 1),
    )


def issue_local_key(code: str):
    """A key for platform `code`, callable from this machine: the test client and
    the live server connect from 127.0.0.1 (security.md AP2 allow-list)."""
    issued = platform_key_issue(platform_code=code, name="测试")
    platform_networks_set(platform=issued.key.platform, networks=list(LOOPBACK))
    return issued


@pytest.fixture
def alpha_key(db):
    issued = issue_local_key("alpha")
    platform = issued.key.platform
    platform.name = "阿尔法外卖"
    platform.occupations = ["food_delivery", "courier", "ride_hailing", "freight"]
    platform.save()
    return issued


@pytest.fixture
def beta_key(db):
    return issue_local_key("beta")


@pytest.fixture
def alpha(alpha_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {alpha_key.plaintext}")
    client.platform = alpha_key.key.platform
    return client


@pytest.fixture
def beta(beta_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {beta_key.plaintext}")
    client.platform = beta_key.key.platform
    return client
