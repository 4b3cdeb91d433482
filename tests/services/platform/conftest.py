"""Personas of the platform API: two platforms (Meituan-like `alpha`, `beta`) with
keys, the E路守护-like program and the gig-worker union pools of Shenzhen."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from members.actions.api_keys import platform_key_issue
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


@pytest.fixture
def alpha_key(db):
    issued = platform_key_issue(platform_code="alpha", name="测试")
    platform = issued.key.platform
    platform.name = "阿尔法外卖"
    platform.occupations = ["food_delivery", "courier", "ride_hailing", "freight"]
    platform.save()
    return issued


@pytest.fixture
def beta_key(db):
    return platform_key_issue(platform_code="beta", name="测试")


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
