"""Protection-program journeys in Chromium on a 390 px phone."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone

from members.models import Occupation
from services.models import (
    Enrollment,
)
from tests.factories import make_user
from tests.services.conftest import (
    make_person,
    make_riders_named_program,
    seed_programs,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def seeded(transactional_db):
    return seed_programs()


def test_domestic_worker_aged_65_sees_why_she_cannot_join(
    seeded, login_as, live_server
):
    # given: a domestic worker who turned 65 this year
    today = timezone.localdate()
    worker = make_person(
        user=make_user(),
        name="陈阿姨",
        occupation=Occupation.DOMESTIC,
        born=date(today.year - 65, 1, 1),
    )
    page = login_as(worker.user)

    # when: she opens the programs from the home page and picks 家政守护
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="保障计划").click()
    page.get_by_role("link", name="家政守护").click()

    # then: she is told why, in Chinese, and offered no enroll button
    page.get_by_role("heading", name="家政守护").wait_for()
    page.get_by_text("暂不符合参加条件").wait_for()
    assert page.get_by_text("年龄不在18–60岁之间").is_visible()
    assert page.get_by_role("button", name="报名参加家政守护").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert not Enrollment.objects.filter(member=worker).exists()


def test_rider_enrolls_in_a_named_program_and_sees_e_road_in_my_coverage(
    seeded, login_as, live_server
):
    # given: E路守护 is anonymous (无记名), so the rider enrolls in a named
    # program for riders that the union runs alongside it
    program = make_riders_named_program(seeded)
    rider = make_person(
        user=make_user(),
        occupation=Occupation.FOOD_DELIVERY,
        joined_platform_on=date(2020, 1, 1),
    )
    page = login_as(rider.user)

    # when: the rider opens the program and enrolls
    page.goto(live_server.url + "/services/programs/")
    page.get_by_role("link", name="骑手意外互助").click()
    page.get_by_text("符合参加条件").wait_for()
    page.get_by_role("button", name="报名参加骑手意外互助").click()

    # then: 我的保障 lists both, with dates; E路守护 needs no enrollment row
    page.get_by_role("heading", name="我的保障").wait_for()
    year = timezone.localdate().year
    period = f"保障期:{year}年1月1日至{year}年12月31日"
    named = page.get_by_role("article", name="骑手意外互助")
    anonymous = page.get_by_role("article", name="E路守护")
    assert named.get_by_text(period).is_visible()
    assert named.get_by_text("已报名参加").is_visible()
    assert anonymous.get_by_text(period).is_visible()
    assert anonymous.get_by_text("无记名保障", exact=False).is_visible()
    assert page.get_by_text("已参加骑手意外互助", exact=False).is_visible()
    assert list(
        Enrollment.objects.filter(member=rider).values_list("program__code", flat=True)
    ) == ["rider_accident"]

    # when: the rider changes their mind and withdraws, through the
    # confirmation step (and has the same step open in a second tab)
    named.get_by_role("button", name="退出该计划").click()
    page.get_by_role("heading", name="退出骑手意外互助").wait_for()
    assert page.get_by_text("退出后保障立即结束", exact=False).is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    stale = page.context.new_page()
    stale.goto(page.url)
    page.get_by_role("button", name="确认退出").click()

    # then: back on 我的保障, the named program no longer covers, the history
    # says withdrawn, E路守护 still covers
    page.get_by_role("heading", name="我的保障").wait_for()
    assert page.get_by_text("已退出骑手意外互助。").is_visible()
    assert page.get_by_role("article", name="骑手意外互助").count() == 0
    assert page.get_by_role("article", name="E路守护").is_visible()
    assert page.get_by_role("cell", name="已退出").is_visible()
    assert page.get_by_role("button", name="退出该计划").count() == 0
    enrollment = Enrollment.objects.get(member=rider, program=program)
    assert enrollment.status == "withdrawn"

    # when: the stale tab submits the confirmation again
    stale.get_by_role("button", name="确认退出").click()

    # then: a clear message, nothing changes
    stale.get_by_role("heading", name="我的保障").wait_for()
    assert stale.get_by_text("你已退出骑手意外互助。").is_visible()
    assert enrollment.events.filter(to_status="withdrawn").count() == 1
