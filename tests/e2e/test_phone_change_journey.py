"""A worker changes their phone number in Chromium on a phone (security.md AU8,
domain.md BR-V7): a code to the new number proves it, the old number is told, a
session on another device ends, and from then on the new number logs in."""

import re
from urllib.parse import urlparse

import pytest

from members.models import Member, User
from tests.factories import make_member, make_user

pytestmark = pytest.mark.django_db(transaction=True)

OLD = "13512340001"
NEW = "13912340002"
PASSWORD = "correct horse battery staple"


def _session_cookie(user, live_server) -> dict:
    """A signed-in session for `user`, as a cookie for another browser."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": session.session_key,
        "domain": urlparse(live_server.url).hostname,
        "path": "/",
    }


def _codes_to(outbox, phone: str) -> list[str]:
    return [re.search(r"\d{6}", text).group(0) for to, text in outbox if to == phone]


def test_worker_moves_to_a_new_number_and_logs_in_with_it(
    login_as, live_server, sms_outbox, nanshan_gig_pool, browser
):
    # given: a member signed in here (with a fresh SMS step) and on another phone
    user = make_user(phone=OLD)
    member = make_member(user=user, org=nanshan_gig_pool, phone=OLD)
    other = browser.new_context(locale="zh-CN")
    other.add_cookies([_session_cookie(user, live_server)])
    other_page = other.new_page()
    other_page.set_default_timeout(10_000)
    other_page.goto(live_server.url + "/me/")
    other_page.get_by_role("heading", name="我的", exact=True).wait_for()
    page = login_as(user, stepped_up=True)

    # when: they open 更换手机号 from 我的 and ask for a code without a number
    page.goto(live_server.url + "/me/")
    page.get_by_role("link", name="更换手机号").click()
    page.get_by_role("heading", name="更换手机号").wait_for()
    assert page.get_by_text("135****0001").count() == 1
    assert OLD not in page.content()
    page.get_by_role("button", name="获取验证码").click()

    # then: a clear error, no SMS
    page.get_by_text("该字段是必填项", exact=False).first.wait_for()
    assert sms_outbox == []

    # when: they type the new number, get its code, and type a wrong one first
    page.get_by_label("新手机号").fill(NEW)
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_text("验证码已发送").wait_for()
    (code,) = _codes_to(sms_outbox, NEW)
    page.get_by_label("新手机号").fill(NEW)
    page.get_by_label("短信验证码").fill("000000" if code != "000000" else "111111")
    page.get_by_role("button", name="确认更换").click()
    page.get_by_text("验证码不正确或已过期").wait_for()
    user.refresh_from_db()
    assert user.phone == OLD

    # and then the right one
    page.get_by_label("新手机号").fill(NEW)
    page.get_by_label("短信验证码").fill(code)
    page.get_by_role("button", name="确认更换").click()

    # then: back on 我的 with the new number (masked), told what happened
    page.wait_for_url(re.compile(r"/me/$"))
    page.get_by_text("手机号已更换为 139****0002", exact=False).wait_for()
    assert NEW not in page.content()
    user.refresh_from_db()
    assert user.phone == NEW
    assert Member.objects.get(pk=member.pk).phone == NEW
    # and the old number gets a notice through the outbox on beat's next
    # dispatch tick (run here in place of beat)
    from members.tasks.notifications import notification_dispatch

    notification_dispatch()
    assert any(to == OLD and "更换为139****0002" in text for to, text in sms_outbox)
    assert not any(to == OLD and NEW in text for to, text in sms_outbox)

    # and the session on the other phone has ended
    other_page.goto(live_server.url + "/me/")
    other_page.wait_for_url(re.compile(r"/login/"))
    other.close()

    # when: they log out and in again: the old number no longer works
    page.get_by_role("button", name="退出").click()
    page.goto(live_server.url + "/login/")
    page.get_by_label("手机号或用户名").fill(OLD)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_text("不正确", exact=False).first.wait_for()

    # and the new one does (this browser was not trusted: an SMS code to NEW)
    page.get_by_label("手机号或用户名").fill(NEW)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/login/verify/$"))
    page.get_by_label("短信验证码").fill(_codes_to(sms_outbox, NEW)[-1])
    page.get_by_role("button", name="确认").click()
    page.wait_for_url(re.compile(r"/me/$"))
    assert page.get_by_text("139****0002").count() >= 1
    assert User.objects.filter(phone_hmac=user.phone_hmac).count() == 1
