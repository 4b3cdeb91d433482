import io
import re
from pathlib import Path

import pytest
from django.conf import settings

from members.models import Member
from services.demo import seed
from services.models import Program
from services.selectors.eligibility import eligibility_reasons
from tests.services.conftest import ON

pytestmark = pytest.mark.django_db


def test_demo_seeds_covered_refused_and_eligible_workers_twice():
    first = seed(stdout=io.StringIO())
    second = seed(stdout=io.StringIO())

    assert [login.login for login in first] == [
        "13800000101",
        "13800000103",
        "13800000102",
    ]
    assert first[0].password != second[0].password
    assert Member.objects.filter(user__username__startswith="demo_").count() == 3
    rider = Member.objects.get(user__username="demo_rider")
    domestic = Member.objects.get(user__username="demo_domestic65")
    assert (
        eligibility_reasons(
            program=Program.objects.get(code="e_road"), member=rider, on=ON
        )
        == []
    )
    assert eligibility_reasons(
        program=Program.objects.get(code="domestic"), member=domestic, on=ON
    ) == ["年龄不在18–60岁之间"]
    sanitation = Member.objects.get(user__username="demo_sanitation")
    assert (
        eligibility_reasons(
            program=Program.objects.get(code="sanitation"), member=sanitation, on=ON
        )
        == []
    )


def test_api_doc_examples_use_a_program_the_demo_creates():
    # given: the demo data a new user gets from `make run`
    seed(stdout=io.StringIO())
    doc = (Path(settings.BASE_DIR) / "docs" / "api.md").read_text(encoding="utf-8")

    # when: the program codes the examples send or show are collected
    codes = set(re.findall(r"program=([\w-]+)", doc))
    codes |= set(re.findall(r'"program":\s*"([^"]+)"', doc))

    # then: there are examples, and each names a program that exists
    assert codes
    assert codes <= set(Program.objects.values_list("code", flat=True))
