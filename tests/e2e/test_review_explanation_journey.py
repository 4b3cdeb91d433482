"""An automated "no longer eligible" in Chromium on a phone (security.md PI10,
PIPL art. 24): the nightly re-check puts a rider's cover under review, the rider
sees why on 我的保障 (cover continues), asks for an explanation, a reviewer answers
it in the admin, and the rider reads the answer on 我的 and in 消息."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.utils import timezone

from members.models import DataRequest, Occupation
from members.tasks.notifications import notification_dispatch
from services.actions.programs import enrollment_create, programs_recheck
from services.models import (
    Enrollment,
)
from tests.factories import make_staff, make_user
from tests.members.factories import REVIEWER_PERMS
from tests.services.conftest import (
    make_person,
    make_riders_named_program,
    seed_programs,
)

pytestmark = pytest.mark.django_db(transaction=True)

ANSWER = "平台报送你已于上月离职,复核后如仍在跑单请提供近期接单记录。"


def test_rider_under_review_asks_why_and_reads_the_answer(
    login_as, live_server, nanshan, nanshan_gig_pool
):
    # given: a rider enrolled in a named riders' program, whose occupation on
    # record has since changed, and the nightly re-check has run
    seeded = seed_programs()
    program = make_riders_named_program(seeded)
    rider = make_person(
        user=make_user(),
        org=nanshan_gig_pool,
        occupation=Occupation.FOOD_DELIVERY,
        joined_platform_on=date(2020, 1, 1),
    )
    today = timezone.localdate()
    enrollment, _ = enrollment_create(member=rider, program=program, on=today)
    rider.occupation = Occupation.CONSTRUCTION
    rider.save(update_fields=["occupation"])
    programs_recheck(on=today)
    enrollment.refresh_from_db()
    assert enrollment.status == "needs_review"

    # when: the rider opens 我的保障
    page = login_as(rider.user, stepped_up=True)
    page.goto(live_server.url + "/services/programs/mine/")

    # then: the cover is still listed, marked under review, with the finding
    cover = page.get_by_role("article", name="骑手意外互助")
    cover.get_by_text("待人工复核").wait_for()
    assert cover.get_by_text("复核期间保障继续有效", exact=False).is_visible()
    assert cover.locator("ul.reasons li").count() >= 1
    assert "needs_review" not in cover.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # when: they ask for the reasons of the automated decision
    cover.get_by_role("link", name="要求说明自动判断的理由").click()
    page.wait_for_url(re.compile(r"/me/requests/\?kind=explanation$"))
    kind = page.get_by_label("申请事项")
    assert kind.input_value() == "explanation"
    page.get_by_label(re.compile("说明")).fill("我还在送外卖,只是换了平台。")
    page.get_by_role("button", name="提交申请").click()

    # then: it is filed for their union
    page.wait_for_url(re.compile(r"/me/$"))
    page.get_by_text("申请已提交", exact=False).wait_for()
    request = DataRequest.objects.get()
    assert (request.kind, request.status) == ("explanation", "open")
    assert request.org == nanshan_gig_pool

    # when: a Nanshan reviewer answers it in the admin
    page.context.clear_cookies()
    reviewer = make_staff(org=nanshan, perms=REVIEWER_PERMS, username="rv_explain")
    page = login_as(reviewer, totp_verified=True)
    page.goto(live_server.url + "/admin/members/datarequest/")
    page.locator("input[name=_selected_action]").first.check()
    page.locator("select[name=action]").select_option("answer_selected")
    page.locator("button[name=index]").click()
    page.get_by_label("答复(申请人可见)").fill(ANSWER)
    page.get_by_role("button", name="确认").click()
    page.get_by_text("已处理 1 份申请。").wait_for()
    page.context.clear_cookies()

    # then: the rider reads the answer on 我的 (no SMS step to read) and in 消息
    page = login_as(rider.user)
    page.goto(live_server.url + "/me/")
    item = page.locator("ul.data-requests li").first
    assert "已办结" in item.inner_text() and ANSWER in item.inner_text()
    notification_dispatch()  # beat's next tick delivers the outbox
    page.goto(live_server.url + "/messages/")
    assert page.get_by_text("已办结", exact=False).count() >= 1
    # and the cover itself is still theirs until staff decide
    assert Enrollment.objects.get(pk=enrollment.pk).status == "needs_review"
