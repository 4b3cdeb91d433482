"""忘记密码 in Chromium on a phone (security.md AU5, AU7): from the login page,
an SMS code to the registered phone and a new password; then the new password
logs in (with a new-device code: the reset revoked every trusted browser). The
codes are read from the LocmemSmsBackend outbox (the live server runs in this
process)."""

import re

import pytest

from members.models import AuditLog
from tests.factories import make_member, make_user

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "13512347777"
NEW_PASSWORD = "my new password is a whole sentence"


def _code(outbox) -> str:
    assert outbox[-1][0] == PHONE
    return re.search(r"\d{6}", outbox[-1][1]).group(0)


def test_forgot_password_then_log_in_with_the_new_one(
    phone_page, live_server, sms_outbox, nanshan_gig_pool
):
    # given: a member who forgot the password
    user = make_user(phone=PHONE)
    make_member(user=user, org=nanshan_gig_pool, phone=PHONE)
    page = phone_page

    # when: "忘记密码?" on the login page, the phone, "获取验证码"
    page.goto(live_server.url + "/login/")
    page.get_by_role("link", name="忘记密码?").click()
    page.wait_for_url(re.compile(r"/password/forgot/$"))
    page.get_by_label("手机号").fill(PHONE)
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_text("验证码已发送").wait_for()

    # a wrong code first: a clear error, nothing changed
    code = _code(sms_outbox)
    page.get_by_label("短信验证码").fill("000000" if code != "000000" else "111111")
    page.get_by_label(re.compile(r"^新密码")).fill(NEW_PASSWORD)
    page.get_by_label("再次输入新密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="重置密码").click()
    page.get_by_text("验证码不正确或已过期").wait_for()

    # the right code and the new password twice
    page.get_by_label("短信验证码").fill(code)
    page.get_by_label(re.compile(r"^新密码")).fill(NEW_PASSWORD)
    page.get_by_label("再次输入新密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="重置密码").click()

    # then: back on the login page with a confirmation
    page.wait_for_url(re.compile(r"/login/$"))
    page.get_by_text("密码已重置").wait_for()

    # and the new password logs in (a new-device code, as after any reset)
    page.get_by_label("手机号或用户名").fill(PHONE)
    page.get_by_label("密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/login/verify/$"))
    page.get_by_label("短信验证码").fill(_code(sms_outbox))
    page.get_by_role("button", name="确认").click()
    page.wait_for_url(re.compile(r"/me/$"))
    page.get_by_role("heading", name="账号安全").wait_for()
    assert PHONE not in page.content()
    assert (
        AuditLog.objects.filter(action="password_reset", outcome="success").count() == 1
    )
