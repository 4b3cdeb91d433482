"""A refused membership application in Chromium on a phone: a reviewer refuses it
in the admin with a reason, the worker reads the reason on 我的 and in 消息,
corrects the form and resubmits; the application is pending again (domain.md §8:
`rejected → pending`)."""

import re

import pytest

from members.models import MembershipApplication, UnionOrg
from members.reference_data import seed_all
from tests.factories import make_id_number, make_staff
from tests.members.factories import (
    REVIEWER_PERMS,
    make_verified_user,
    submit_application,
)

pytestmark = pytest.mark.django_db(transaction=True)

REASON = "职业填写有误:请按实际从事的工作选择“网约车司机”。"


def test_refused_worker_reads_the_reason_corrects_and_resubmits(login_as, live_server):
    # given: a Nanshan worker's pending application (occupation chosen wrongly)
    # and a Nanshan reviewer
    seed_all()
    nanshan = UnionOrg.objects.get(name="南山区总工会")
    reviewer = make_staff(org=nanshan, perms=REVIEWER_PERMS, username="rv_refuse")
    worker = make_verified_user()
    id_number = make_id_number()
    application = submit_application(
        user=worker, id_number=id_number, name="李大川", occupation="food_delivery"
    )

    # when: the reviewer refuses it in the admin, giving a reason on the
    # action's own page
    page = login_as(reviewer, totp_verified=True)
    page.goto(live_server.url + "/admin/members/membershipapplication/")
    assert "李**" in page.content() and "李大川" not in page.content()
    page.locator("input[name=_selected_action]").first.check()
    page.locator("select[name=action]").select_option("reject_selected")
    page.locator("button[name=index]").click()
    page.get_by_text("入会申请不通过").first.wait_for()
    page.get_by_label("不通过原因(申请人可见)").fill(REASON)
    page.get_by_role("button", name="确认").click()
    page.get_by_text("已退回 1 份申请。").wait_for()
    application.refresh_from_db()
    assert application.status == "rejected"
    page.context.clear_cookies()

    # then: the worker sees the outcome and the reason on 我的
    page = login_as(worker)
    page.goto(live_server.url + "/me/")
    page.get_by_role("heading", name="入会申请").wait_for()
    assert page.get_by_text("未通过").first.is_visible()
    assert page.get_by_text(f"原因:{REASON}").is_visible()
    # and the membership history keeps the refusal with its reason
    assert page.locator("ol.history").get_by_text(REASON, exact=False).is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # when: they open the form again: their answers are kept, the ID number is
    # not shown back and must be typed again
    page.get_by_role("link", name="修改并重新提交").click()
    page.wait_for_url(re.compile(r"/join/$"))
    page.get_by_text("上次申请未通过").wait_for()
    assert page.get_by_label("姓名").input_value() == "李大川"
    assert page.get_by_role("textbox", name="身份证号").input_value() == ""
    assert id_number not in page.content()

    # and submit without the ID number: the phone's browser stops at the empty
    # field (required), nothing is sent, nothing changes
    page.get_by_label("职业").select_option("ride_hailing")
    page.get_by_role("button", name="提交入会申请").click()
    id_box = page.get_by_role("textbox", name="身份证号")
    assert id_box.evaluate("el => !el.checkValidity()")
    assert page.url.endswith("/join/")
    application.refresh_from_db()
    assert application.status == "rejected"

    # and then correctly
    page.get_by_role("textbox", name="身份证号").fill(id_number)
    page.get_by_label("职业").select_option("ride_hailing")
    consent = page.get_by_label(re.compile("单独同意"))
    if not consent.is_checked():
        consent.check()
    page.get_by_role("button", name="提交入会申请").click()

    # then: the same application is pending again with the corrected answer
    page.wait_for_url(re.compile(r"/me/$"))
    page.get_by_text("入会申请已提交").wait_for()
    assert page.get_by_text("待审核").count() >= 1
    assert page.get_by_text(f"原因:{REASON}").count() == 0
    assert MembershipApplication.objects.count() == 1
    application.refresh_from_db()
    assert application.status == "pending"
    assert application.occupation == "ride_hailing"
