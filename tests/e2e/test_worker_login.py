"""A worker's login in Chromium on a phone (security.md AU4): on a new browser
the password is followed by an SMS code (read from the LocmemSmsBackend outbox:
the live server runs in this process), the browser is then trusted, and the data
export asks for a fresh code."""

import json
import re

import pytest

from members.models import AuditLog
from members.worker_mfa import trusted_device_cookie_name
from tests.factories import make_member, make_user

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "13512348888"
PASSWORD = "correct horse battery staple"


def _code(outbox) -> str:
    assert outbox[-1][0] == PHONE
    return re.search(r"\d{6}", outbox[-1][1]).group(0)


def _password_step(page, base):
    page.goto(base + "/login/")
    page.get_by_label("手机号或用户名").fill(PHONE)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_new_browser_needs_the_sms_code_then_only_the_password(
    phone_page, live_server, sms_outbox, nanshan_gig_pool
):
    # given: a member with an account, never logged in on this browser
    member = make_member(user=make_user(phone=PHONE), org=nanshan_gig_pool, phone=PHONE)
    page = phone_page

    # when: the password is right, the portal asks for the SMS code
    _password_step(page, live_server.url)
    page.wait_for_url(re.compile(r"/login/verify/$"))
    page.get_by_text("验证码已发送").wait_for()
    assert page.get_by_text("135****8888").count() == 1
    assert PHONE not in page.content()
    # a wrong code first: a clear error, still on the code page
    code = _code(sms_outbox)
    page.get_by_label("短信验证码").fill("000000" if code != "000000" else "111111")
    page.get_by_role("button", name="确认").click()
    page.get_by_text("验证码不正确或已过期").wait_for()
    page.get_by_label("短信验证码").fill(code)
    page.get_by_role("button", name="确认").click()

    # then: signed in on 我的, with an HttpOnly trusted-device cookie
    page.wait_for_url(re.compile(r"/me/$"))
    page.get_by_role("heading", name="我的", exact=True).wait_for()
    cookies = {c["name"]: c for c in page.context.cookies()}
    trusted = cookies[trusted_device_cookie_name()]
    assert trusted["httpOnly"] is True and trusted["sameSite"] == "Lax"
    assert PHONE not in trusted["value"]

    # and the export right after the login needs no second code
    with page.expect_download() as download:
        page.get_by_role("button", name="下载我的数据(JSON)").click()
    data = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert data["account"]["phone"] == PHONE
    assert data["member"]["name"] == member.name

    # when: logged out and in again on the same browser, the password is enough
    sent = len(sms_outbox)
    page.get_by_role("button", name="退出").click()
    _password_step(page, live_server.url)
    page.wait_for_url(re.compile(r"/me/$"))
    assert len(sms_outbox) == sent
    assert AuditLog.objects.filter(action="worker_device_trusted").count() == 1


def test_export_asks_for_a_fresh_code_and_comes_back(
    login_as, live_server, sms_outbox, nanshan_gig_pool
):
    # given: a signed-in member whose session has no recent SMS code
    member = make_member(user=make_user(phone=PHONE), org=nanshan_gig_pool, phone=PHONE)
    page = login_as(member.user)
    page.goto(live_server.url + "/me/")

    # when: they ask for their data
    page.get_by_role("button", name="下载我的数据(JSON)").click()

    # then: the step-up page asks for a code first, then brings them back
    page.wait_for_url(re.compile(r"/me/verify/\?next="))
    assert page.get_by_text("135****8888").count() == 1
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_text("验证码已发送").wait_for()
    page.get_by_label("短信验证码").fill(_code(sms_outbox))
    page.get_by_role("button", name="确认").click()
    page.wait_for_url(re.compile(r"/me/export/$"))
    with page.expect_download() as download:
        page.get_by_role("button", name="下载我的数据(JSON)").click()
    data = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert data["account"]["phone"] == PHONE
    assert AuditLog.objects.filter(action="worker_step_up_verify").count() == 1
