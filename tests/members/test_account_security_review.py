"""Review findings on the account-security pages (enumeration, throttling)."""

from __future__ import annotations

import os

import pytest
from django.core.cache import cache
from django.test import Client

from tests.factories import make_member, make_user, step_up

pytestmark = pytest.mark.django_db

PHONE = "13812345678"
CHANGE_PHONE = "/me/phone/"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def test_change_phone_confirm_does_not_tell_which_numbers_are_taken(sms_outbox):
    """Without ever asking for a code (so no send quota is spent), a signed-in
    worker must not learn from the "确认更换" answer whether another account or
    member holds a number: a wrong code reads the same for every number."""
    worker = make_user(phone=PHONE)
    make_user(phone="13900000001")
    make_member(phone="13900000002")
    client = Client()
    client.force_login(worker)
    step_up(client)

    bodies = {}
    for phone in ("13900000001", "13900000002", "13900000003"):
        response = client.post(
            CHANGE_PHONE, {"phone": phone, "code": "123456", "action": "change"}
        )
        bodies[phone] = (
            response.status_code,
            "已被其他账号使用" in response.content.decode(),
        )

    assert bodies["13900000001"] == bodies["13900000003"]
    assert bodies["13900000002"] == bodies["13900000003"]
    assert sms_outbox == [] or all(to == PHONE for to, _ in sms_outbox)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis")
def test_account_pages_answer_503_when_the_throttle_store_is_down(sms_outbox):
    """portal.throttling raises ThrottleUnavailable when Redis does not answer;
    the anonymous SMS sends (forgot password, register) and the signed-in
    change pages must answer 503, never a 500 (brief: a 500 is a bug)."""
    from django.test import override_settings

    from tests.portal.test_throttling_redis import closed_port, redis_caches

    worker = make_user(phone=PHONE)
    signed_in = Client(raise_request_exception=False)
    signed_in.force_login(worker)
    step_up(signed_in)
    anonymous = Client(raise_request_exception=False)
    with override_settings(CACHES=redis_caches(f"redis://127.0.0.1:{closed_port()}/0")):
        forgot = anonymous.post(
            "/password/forgot/", {"phone": PHONE, "action": "send_code"}
        )
        register = anonymous.post(
            "/register/", {"phone": "13900000009", "action": "send_code"}
        )
        password = signed_in.post(
            "/me/password/",
            {
                "old_password": "x" * 12,
                "new_password1": "a long new sentence for me",
                "new_password2": "a long new sentence for me",
            },
        )
        phone = signed_in.post(
            CHANGE_PHONE, {"phone": "13900000008", "action": "send_code"}
        )

    statuses = [r.status_code for r in (forgot, register, password, phone)]
    assert statuses == [503, 503, 503, 503]
    for response in (forgot, register, password, phone):
        assert "服务暂时不可用" in response.content.decode()
    assert sms_outbox == []


def test_change_password_page_links_lead_somewhere_else():
    """A signed-in worker who forgot the current password follows the page's
    own help link: it must not bring them straight back to the same page
    (/password/forgot/ sends signed-in workers to /me/password/)."""
    import re

    worker = make_user(phone=PHONE)
    client = Client()
    client.force_login(worker)
    step_up(client)
    page = client.get("/me/password/").content.decode()

    for href in re.findall(r'href="(/[^"]*)"', page):
        response = client.get(href)
        assert response.get("Location") != "/me/password/", href
    # the way out: sign out, then the forgot-password page
    assert 'name="next" value="/password/forgot/"' in page
    out = client.post("/logout/", {"next": "/password/forgot/"})
    assert out.status_code == 302 and out["Location"] == "/password/forgot/"
    assert client.get("/password/forgot/").status_code == 200


def test_register_without_a_code_does_not_tell_which_numbers_have_an_account(
    sms_outbox,
):
    """/password/forgot/ is enumeration-safe (AU7); /register/'s "注册" step
    answered "已注册" for a registered number before looking at the code, so
    anyone could ask, code-free and unthrottled. A wrong code now reads the
    same for both."""
    make_user(phone="13900000001")
    client = Client()
    password = "a long new sentence for me"
    answers = {}
    for phone in ("13900000001", "13900000003"):
        response = client.post(
            "/register/",
            {
                "phone": phone,
                "code": "123456",
                "password1": password,
                "password2": password,
                "action": "register",
            },
        )
        answers[phone] = (response.status_code, "已注册" in response.content.decode())

    assert answers["13900000001"] == answers["13900000003"] == (200, False)
