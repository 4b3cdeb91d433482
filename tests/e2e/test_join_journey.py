"""The joining journey in Chromium on a phone: register with an SMS code → join
→ a reviewer approves in the admin → the worker sees the electronic member card."""

import re

import pytest

from members.models import Member, MembershipApplication
from members.reference_data import seed_all
from tests.factories import make_staff, make_totp_device, totp_code
from tests.members.factories import REVIEWER_PERMS

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "13612345678"
PASSWORD = "晚上送完外卖回家睡觉 2026"


def test_register_join_approve_and_see_the_card(
    phone_page, live_server, sms_outbox, browser
):
    # given: the reference tree and a Nanshan reviewer
    seed_all()
    from members.models import UnionOrg

    nanshan = UnionOrg.objects.get(name="南山区总工会")
    reviewer = make_staff(org=nanshan, perms=REVIEWER_PERMS, username="rv_e2e")
    device = make_totp_device(reviewer)
    page = phone_page

    # when: the worker registers with the SMS code
    page.goto(live_server.url + "/register/")
    page.get_by_label("手机号").fill(PHONE)
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_text("验证码已发送").wait_for()
    code = re.search(r"\d{6}", sms_outbox[-1][1]).group(0)
    page.get_by_label("手机号").fill(PHONE)
    page.get_by_label("短信验证码").fill(code)
    page.get_by_label("设置密码").fill(PASSWORD)
    page.get_by_label("再次输入密码").fill(PASSWORD)
    page.get_by_role("button", name="注册").click()
    page.wait_for_url(re.compile(r"/join/$"))

    # and fills in the join form
    page.get_by_label("姓名").fill("王小明")
    page.get_by_role("textbox", name="身份证号").fill("44030519900307123 6")
    page.get_by_label("职业").select_option("food_delivery")
    page.get_by_label("与平台的用工关系").select_option("written_agreement")
    page.get_by_label("户籍地行政区划代码").fill("440305")
    page.get_by_label("常住地(区)").select_option("440305")
    page.get_by_label(re.compile("单独同意")).check()
    page.get_by_role("button", name="提交入会申请").click()
    page.wait_for_url(re.compile(r"/me/$"))
    page.get_by_text("入会申请已提交").wait_for()
    assert page.get_by_text("待审核").count() >= 1
    assert "440305199003071236" not in page.content()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390

    # and a reviewer approves it in the admin (a separate browser session)
    staff_context = browser.new_context()
    staff = staff_context.new_page()
    staff.set_default_timeout(10_000)
    staff.goto(live_server.url + "/admin/login/?next=/admin/")
    staff.locator("#id_username").fill("rv_e2e")
    staff.locator("#id_password").fill("correct horse battery staple")
    staff.locator("input[type=submit]").click()
    staff.wait_for_url(re.compile(r"/admin/otp/"))  # second factor (AU4)
    staff.locator("#id_token").fill(totp_code(device))
    staff.locator("#otp-form input[type=submit]").click()
    staff.wait_for_url(re.compile(r"/admin/$"))
    staff.goto(live_server.url + "/admin/members/membershipapplication/")
    assert "王**" in staff.content()
    staff.locator("input[name=_selected_action]").first.check()
    staff.locator("select[name=action]").select_option("approve_selected")
    staff.locator("button[name=index]").click()
    staff.get_by_text("已通过 1 份申请。").wait_for()
    staff_context.close()

    # then: the worker sees the card with the member number and a QR code
    member = Member.objects.get()
    assert member.status == "active"
    assert MembershipApplication.objects.get().decided_by == reviewer
    page.goto(live_server.url + "/me/")
    page.get_by_role("button", name="电子会员证").click()
    page.wait_for_url(re.compile(r"/me/card/$"))
    page.get_by_text(member.member_no).wait_for()
    assert page.get_by_text("南山区新业态联合工会").count() == 1
    assert page.locator("svg.segno").count() == 1
    assert page.get_by_text("4****************6").count() == 1
