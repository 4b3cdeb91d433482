"""A worker's account security (security.md AU4, AU5, AU7, AU8, LG1): forgot
password (SMS code to the registered phone, enumeration-safe), change password
and change phone (both after an SMS code at most 5 minutes old)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from members.actions import account_security
from members.actions.notifications import (
    notifications_claim_due,
    notifications_send_batch,
)
from members.models import (
    AuditLog,
    Notification,
    OneTimeCode,
    User,
)
from members.models.accounts import PHONE_INDEX
from members.sms import SmsError
from members.worker_mfa import STEP_UP_KEY, trusted_device_value
from portal.crypto import blind_index
from tests.factories import (
    login_staff,
    make_id_number,
    make_member,
    make_org,
    make_staff,
    make_user,
    step_up,
)
from tests.members.factories import submit_application

pytestmark = pytest.mark.django_db

PHONE = "13812345678"
NEW_PHONE = "13987654321"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a long new sentence for my account"
FORGOT = "/password/forgot/"
CHANGE_PASSWORD = "/me/password/"
CHANGE_PHONE = "/me/phone/"
COOKIE = "trusted_device"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def worker_user(db):
    return make_user(phone=PHONE)


@pytest.fixture
def signed_in(worker_user):
    client = Client()
    client.force_login(worker_user)
    return client


def _code(outbox, phone) -> str:
    sent_to, text = outbox[-1]
    assert sent_to == phone
    return re.search(r"\d{6}", text).group(0)


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def _audit(action, **filters):
    return list(AuditLog.objects.filter(action=action, **filters).order_by("id"))


def _reset(client, code, phone=PHONE, password=NEW_PASSWORD, **extra):
    return client.post(
        FORGOT,
        {
            "phone": phone,
            "code": code,
            "password1": password,
            "password2": password,
            "action": "reset",
            **extra,
        },
    )


def _send_reset(client, phone=PHONE):
    return client.post(FORGOT, {"phone": phone, "action": "send_code"})


def _normalised(body: str) -> str:
    """A page without what differs between any two requests: the CSRF tokens,
    the CSP nonce and the number typed in."""
    body = re.sub(r"[A-Za-z0-9_+/=-]{20,}", "TOKEN", body)
    return re.sub(r"1[3-9]\d{9}", "PHONE", body)


# --- Forgot password ---------------------------------------------------------------


def test_login_page_links_to_forgot_password(client):
    body = client.get("/login/").content.decode()
    assert 'href="/password/forgot/"' in body and "忘记密码" in body


def test_forgot_password_page_is_phone_first(client):
    response = client.get(FORGOT)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.index('name="phone"') < body.index('name="code"')
    assert 'value="send_code"' in body and 'autocomplete="new-password"' in body
    assert response["Cache-Control"].startswith("max-age=0")


def test_forgot_password_resets_and_ends_every_other_session(
    client, worker_user, sms_outbox
):
    # given: the worker is signed in elsewhere, with a trusted browser there
    elsewhere = Client()
    elsewhere.force_login(worker_user)
    old_cookie = trusted_device_value(worker_user)

    sent = _send_reset(client)
    response = _reset(client, _code(sms_outbox, PHONE))

    assert sent.status_code == 200
    assert response.status_code == 302 and response["Location"] == "/login/"
    worker_user.refresh_from_db()
    assert worker_user.check_password(NEW_PASSWORD)
    # the other session is signed out, the other browser's cookie is void
    assert elsewhere.get("/me/")["Location"].startswith("/login/")
    stranger = Client()
    stranger.cookies[COOKIE] = old_cookie
    login = stranger.post("/login/", {"username": PHONE, "password": NEW_PASSWORD})
    assert login["Location"] == "/login/verify/"  # a code again: not trusted
    assert _code(sms_outbox, PHONE)
    # audit: code sent to an account, reset succeeded; nothing holds the number
    (send_row,) = _audit("password_reset_code_send")
    assert send_row.actor == worker_user and send_row.detail == {"account": True}
    (row,) = _audit("password_reset")
    assert row.actor == worker_user and row.outcome == "success"
    assert PHONE not in str(row.detail) + str(send_row.detail)
    # the worker is told in the inbox and by SMS
    notices = Notification.objects.filter(
        user=worker_user, template_code="account_password_changed"
    )
    assert sorted(notices.values_list("channel", flat=True)) == ["inbox", "sms"]
    assert OneTimeCode.objects.get(purpose="password_reset").used_at is not None


def test_reset_code_works_once(client, worker_user, sms_outbox):
    _send_reset(client)
    code = _code(sms_outbox, PHONE)
    _reset(client, code)

    again = _reset(client, code, password="yet another long sentence here")

    assert again.status_code == 400
    assert "验证码不正确或已过期" in again.content.decode()
    worker_user.refresh_from_db()
    assert worker_user.check_password(NEW_PASSWORD)


def test_unknown_number_gets_the_same_answer(client, worker_user, sms_outbox):
    """AU7: the page, its status and the steps taken (a code row, one SMS, an
    audit row) are the same whether or not the number has an account."""
    other = Client()
    known = _send_reset(client, PHONE)
    unknown = _send_reset(other, "13700001111")

    assert known.status_code == unknown.status_code == 200
    assert _normalised(known.content.decode()) == _normalised(unknown.content.decode())
    assert [to for to, _ in sms_outbox] == [PHONE, "13700001111"]
    assert OneTimeCode.objects.filter(purpose="password_reset").count() == 2
    rows = _audit("password_reset_code_send")
    assert [r.outcome for r in rows] == ["success", "success"]
    assert rows[1].actor is None and rows[1].actor_role == "anonymous"
    assert rows[1].detail == {"account": False}

    # a wrong code: the same answer too
    wrong_known = _reset(client, "000000")
    wrong_unknown = _reset(other, "000000", phone="13700001111")
    assert wrong_known.status_code == wrong_unknown.status_code == 400
    assert _normalised(wrong_known.content.decode()) == _normalised(
        wrong_unknown.content.decode()
    )


def test_unknown_number_with_its_right_code_says_no_account(client, sms_outbox):
    """Only whoever holds the phone (the code) learns there is no account."""
    _send_reset(client, "13700001111")

    response = _reset(client, _code(sms_outbox, "13700001111"), phone="13700001111")

    assert response.status_code == 400
    assert "该手机号没有可以找回密码的账号" in response.content.decode()
    (row,) = _audit("password_reset")
    assert row.outcome == "failure" and row.detail == {"reason": "no_account"}


def test_staff_and_deactivated_accounts_are_not_reset_by_sms(client, sms_outbox):
    staff = make_staff(org=make_org(), phone="13700002222")
    gone = make_user(phone="13700003333", is_active=False)
    for user, phone in ((staff, "13700002222"), (gone, "13700003333")):
        session = Client()
        _send_reset(session, phone)
        response = _reset(session, _code(sms_outbox, phone), phone=phone)
        assert response.status_code == 400
        user.refresh_from_db()
        assert user.check_password(PASSWORD)
    assert all(r.detail["account"] is False for r in _audit("password_reset_code_send"))


def test_reset_code_from_another_browser_session_is_refused(
    client, worker_user, sms_outbox
):
    _send_reset(client)
    code = _code(sms_outbox, PHONE)

    response = _reset(Client(), code)

    assert response.status_code == 400
    worker_user.refresh_from_db()
    assert worker_user.check_password(PASSWORD)
    # the code still works where it was asked for
    assert _reset(client, code).status_code == 302


def test_expired_reset_code_is_refused(client, worker_user, sms_outbox):
    _send_reset(client)
    OneTimeCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = _reset(client, _code(sms_outbox, PHONE))

    assert response.status_code == 400
    worker_user.refresh_from_db()
    assert worker_user.check_password(PASSWORD)


def test_five_wrong_reset_codes_lock_the_code(client, worker_user, sms_outbox):
    _send_reset(client)
    code = _code(sms_outbox, PHONE)
    statuses = [_reset(client, _wrong(code)).status_code for _ in range(5)]

    locked = _reset(client, code)

    assert statuses == [400] * 5
    assert locked.status_code == 429
    assert "错误次数过多" in locked.content.decode()
    worker_user.refresh_from_db()
    assert worker_user.check_password(PASSWORD)
    rows = _audit("password_reset")
    assert [r.outcome for r in rows] == ["failure"] * 5 + ["denied"]


def test_weak_new_password_costs_no_code(client, worker_user, sms_outbox):
    _send_reset(client)
    code = _code(sms_outbox, PHONE)

    weak = _reset(client, code, password="gonghui123456")
    mismatch = _reset(client, code, **{"password2": "something else entirely long"})
    good = _reset(client, code)

    assert weak.status_code == 400 and mismatch.status_code == 400
    assert "两次输入的密码不一致" in mismatch.content.decode()
    assert good.status_code == 302
    assert OneTimeCode.objects.get(purpose="password_reset").attempts == 0


def test_reset_sends_have_their_own_hourly_quota(client, worker_user, sms_outbox):
    """Five reset codes an hour per number; they do not use up the codes the
    owner needs to sign in, and registration sends do not use up these."""
    for _ in range(5):
        Client().post("/register/", {"phone": PHONE, "action": "send_code"})
    statuses = [_send_reset(Client()).status_code for _ in range(6)]

    login = Client().post("/login/", {"username": PHONE, "password": PASSWORD})

    assert statuses == [200] * 5 + [429]
    assert login["Location"] == "/login/verify/"
    assert OneTimeCode.objects.filter(purpose="login").count() == 1
    denied = _audit("password_reset_code_send", outcome="denied")
    assert len(denied) == 1 and denied[0].detail["reason"] == "rate_limited"


def test_reset_sends_are_limited_per_client_address(settings, sms_outbox):
    settings.PASSWORD_RESET_SMS_RATE = "2/hour"
    here = Client(REMOTE_ADDR="198.51.100.7")
    elsewhere = Client(REMOTE_ADDR="198.51.100.8")

    statuses = [_send_reset(here, f"1391234567{i}").status_code for i in range(3)]
    other = _send_reset(elsewhere, "13912345679")

    assert statuses == [200, 200, 429]
    assert other.status_code == 200
    assert len(sms_outbox) == 3


def test_reset_send_gateway_failure_is_a_503(
    client, worker_user, sms_outbox, monkeypatch
):
    def broken(phone, **kwargs):
        raise SmsError("gateway down")

    monkeypatch.setattr("members.actions.accounts.send_sms_template", broken)

    response = _send_reset(client)

    assert response.status_code == 503
    assert OneTimeCode.objects.count() == 0  # rolled back: not counted
    (row,) = _audit("password_reset_code_send")
    assert row.outcome == "failure" and row.detail["reason"] == "sms_error"


def test_reset_lifts_the_login_lockout(
    client, worker_user, sms_outbox, settings, django_capture_on_commit_callbacks
):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": PHONE, "password": "wrong password!!"})
    assert (
        client.post("/login/", {"username": PHONE, "password": PASSWORD}).status_code
        == 429
    )
    _send_reset(client)
    with django_capture_on_commit_callbacks(execute=True):
        _reset(client, _code(sms_outbox, PHONE))

    login = client.post("/login/", {"username": PHONE, "password": NEW_PASSWORD})

    assert login.status_code == 302 and login["Location"] == "/login/verify/"


def test_signed_in_worker_goes_to_change_password(signed_in):
    response = signed_in.get(FORGOT)
    assert response.status_code == 302 and response["Location"] == CHANGE_PASSWORD


def test_signed_in_staff_goes_to_the_admin_password_change(client):
    login_staff(client, make_staff(org=make_org()))
    response = client.get(FORGOT)
    assert response.status_code == 302
    assert response["Location"] == "/admin/password_change/"


@pytest.mark.parametrize(
    "phone",
    ["", "1" * 10_000, "138\x0012345678", "<script>alert(1)</script>", "12345"],
)
def test_forgot_password_hostile_phone_is_a_form_error(client, sms_outbox, phone):
    response = _send_reset(client, phone)

    assert response.status_code == 400
    body = response.content.decode()
    assert "<script>alert(1)</script>" not in body
    assert sms_outbox == []


def test_forgot_password_full_width_phone_is_normalised(
    client, worker_user, sms_outbox
):
    response = _send_reset(client, "１３８１２３４５６７８")

    assert response.status_code == 200
    assert sms_outbox[-1][0] == PHONE


@pytest.mark.parametrize(
    "code", ["", "１２３４５６", "1" * 10_000, "12\x003456", "<b>123456</b>", "12345"]
)
def test_forgot_password_hostile_code_is_a_form_error(
    client, worker_user, sms_outbox, code
):
    _send_reset(client)

    response = _reset(client, code)

    assert response.status_code == 400
    assert "<b>123456</b>" not in response.content.decode()
    assert OneTimeCode.objects.get(purpose="password_reset").attempts == 0
    worker_user.refresh_from_db()
    assert worker_user.check_password(PASSWORD)


@pytest.mark.parametrize(
    "password", ["", "x" * 10_000, "a long password with a \x00 nul in it"]
)
def test_forgot_password_hostile_password_is_a_form_error(
    client, worker_user, sms_outbox, password
):
    _send_reset(client)

    response = _reset(client, _code(sms_outbox, PHONE), password=password)

    assert response.status_code == 400
    worker_user.refresh_from_db()
    assert worker_user.check_password(PASSWORD)


def test_forgot_password_needs_csrf(worker_user, sms_outbox):
    client = Client(enforce_csrf_checks=True)
    response = _send_reset(client)
    assert response.status_code == 403
    assert sms_outbox == []


# --- Change password ---------------------------------------------------------------


def _change_password(client, old=PASSWORD, new=NEW_PASSWORD, new2=None):
    return client.post(
        CHANGE_PASSWORD,
        {
            "old_password": old,
            "new_password1": new,
            "new_password2": new if new2 is None else new2,
        },
    )


def test_change_password_without_step_up_goes_to_step_up(signed_in, worker_user):
    get = signed_in.get(CHANGE_PASSWORD)
    post = _change_password(signed_in)

    assert get.status_code == 302
    assert get["Location"] == "/me/verify/?next=%2Fme%2Fpassword%2F"
    assert post.status_code == 302 and post["Location"].startswith("/me/verify/")
    worker_user.refresh_from_db()
    assert worker_user.check_password(PASSWORD)


def test_change_password_with_a_step_up_older_than_5_minutes_goes_to_step_up(
    signed_in, worker_user
):
    """The export accepts a code from the last 10 minutes; a password change
    only from the last 5 (AU8)."""
    session = signed_in.session
    session[STEP_UP_KEY] = int(time.time()) - 301
    session.save()

    response = _change_password(signed_in)

    assert response.status_code == 302 and response["Location"].startswith(
        "/me/verify/"
    )
    assert signed_in.get("/me/export/").status_code == 200  # still within 10 min
    worker_user.refresh_from_db()
    assert worker_user.check_password(PASSWORD)


def test_change_password_after_the_real_step_up_page(
    signed_in, worker_user, sms_outbox
):
    signed_in.post("/me/verify/?next=/me/password/", {"action": "send"})
    verified = signed_in.post(
        "/me/verify/",
        {"code": _code(sms_outbox, PHONE), "next": CHANGE_PASSWORD},
    )
    page = signed_in.get(CHANGE_PASSWORD)

    assert verified["Location"] == CHANGE_PASSWORD
    assert page.status_code == 200
    assert 'autocomplete="current-password"' in page.content.decode()


def test_change_password_rotates_the_session_and_ends_the_others(
    signed_in, worker_user
):
    step_up(signed_in)
    signed_in.cookies[COOKIE] = trusted_device_value(worker_user, device="dev1")
    other = Client()
    other.force_login(worker_user)
    other_cookie = trusted_device_value(worker_user, device="dev2")
    before = signed_in.cookies["sessionid"].value

    response = _change_password(signed_in)

    assert response.status_code == 302 and response["Location"] == "/me/"
    assert signed_in.cookies["sessionid"].value != before
    assert signed_in.session[SESSION_KEY] == str(worker_user.pk)
    assert signed_in.get("/me/").status_code == 200
    assert other.get("/me/")["Location"].startswith("/login/")
    # this browser stays trusted under the new password, the other one is not
    worker_user.refresh_from_db()
    assert worker_user.check_password(NEW_PASSWORD)
    assert COOKIE in response.cookies
    fresh = Client()
    fresh.cookies[COOKIE] = response.cookies[COOKIE].value
    assert (
        fresh.post("/login/", {"username": PHONE, "password": NEW_PASSWORD})["Location"]
        == "/me/"
    )
    stale = Client()
    stale.cookies[COOKIE] = other_cookie
    assert (
        stale.post("/login/", {"username": PHONE, "password": NEW_PASSWORD})["Location"]
        == "/login/verify/"
    )
    (row,) = _audit("password_change")
    assert row.outcome == "success" and row.actor == worker_user
    assert (
        Notification.objects.filter(
            user=worker_user, template_code="account_password_changed"
        ).count()
        == 2
    )


def test_change_password_on_an_untrusted_browser_sets_no_cookie(signed_in, worker_user):
    step_up(signed_in)
    response = _change_password(signed_in)
    assert response.status_code == 302
    assert COOKIE not in response.cookies


def test_change_password_wrong_current_password(signed_in, worker_user):
    step_up(signed_in)

    response = _change_password(signed_in, old="not my password at all")

    assert response.status_code == 400
    assert "当前密码不正确" in response.content.decode()
    worker_user.refresh_from_db()
    assert worker_user.check_password(PASSWORD)
    (row,) = _audit("password_change")
    assert row.outcome == "failure" and row.detail == {"reason": "wrong_password"}
    assert not Notification.objects.filter(template_code="account_password_changed")


def test_change_password_weak_or_mismatched(signed_in, worker_user):
    step_up(signed_in)
    weak = _change_password(signed_in, new="gonghui123456")
    mismatch = _change_password(signed_in, new2="another long sentence here")
    assert weak.status_code == 400 and mismatch.status_code == 400
    worker_user.refresh_from_db()
    assert worker_user.check_password(PASSWORD)


def test_change_password_attempts_are_limited_before_hashing(
    signed_in, worker_user, settings, monkeypatch
):
    settings.PASSWORD_CHANGE_RATE = "3/hour"
    step_up(signed_in)
    statuses = [
        _change_password(signed_in, old="wrong password number x").status_code
        for _ in range(3)
    ]
    checks = []
    monkeypatch.setattr(
        User, "check_password", lambda self, raw: checks.append(raw) or True
    )

    limited = _change_password(signed_in)

    assert statuses == [400, 400, 400]
    assert limited.status_code == 429 and checks == []


@pytest.mark.parametrize(
    "value", ["", "x" * 10_000, "nul \x00 in the middle of it", "<i>x</i>"]
)
def test_change_password_hostile_input(signed_in, worker_user, value):
    step_up(signed_in)
    for data in (
        {
            "old_password": value,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        {"old_password": PASSWORD, "new_password1": value, "new_password2": value},
    ):
        response = signed_in.post(CHANGE_PASSWORD, data)
        assert response.status_code == 400
        assert "<i>x</i>" not in response.content.decode()
    worker_user.refresh_from_db()
    assert worker_user.check_password(PASSWORD)


def test_change_pages_are_for_workers_only(client):
    staff = make_staff(org=make_org())
    login_staff(client, staff)
    assert client.get(CHANGE_PASSWORD).status_code == 404
    assert client.get(CHANGE_PHONE).status_code == 404
    assert client.get("/me/").status_code == 200


def test_change_pages_need_a_signed_in_user(client):
    for url in (CHANGE_PASSWORD, CHANGE_PHONE):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(
            "/login/"
        )


def test_me_links_to_the_account_pages(signed_in):
    body = signed_in.get("/me/").content.decode()
    assert f'href="{CHANGE_PASSWORD}"' in body and f'href="{CHANGE_PHONE}"' in body


# --- Change phone ------------------------------------------------------------------


def _send_phone(client, phone=NEW_PHONE):
    return client.post(CHANGE_PHONE, {"phone": phone, "action": "send_code"})


def _deliver_due(*, backend=None, at=None):
    """Run the outbox once (claim what is due, send it) as the worker would."""
    with transaction.atomic():
        token, ids = notifications_claim_due(limit=100, now=at or timezone.now())
    if ids:
        notifications_send_batch(
            ids=ids, claim_token=token, now=at, sms_backend=backend
        )


def _confirm_phone(client, code, phone=NEW_PHONE):
    return client.post(CHANGE_PHONE, {"phone": phone, "code": code, "action": "change"})


def test_change_phone_without_step_up_goes_to_step_up(signed_in, sms_outbox):
    get = signed_in.get(CHANGE_PHONE)
    post = _send_phone(signed_in)

    assert get["Location"] == "/me/verify/?next=%2Fme%2Fphone%2F"
    assert post.status_code == 302 and post["Location"].startswith("/me/verify/")
    assert sms_outbox == []


def test_change_phone_with_a_stale_step_up_goes_to_step_up(signed_in, sms_outbox):
    session = signed_in.session
    session[STEP_UP_KEY] = int(time.time()) - 301
    session.save()

    response = _send_phone(signed_in)

    assert response.status_code == 302 and response["Location"].startswith(
        "/me/verify/"
    )
    assert sms_outbox == []


def test_change_phone_moves_account_member_and_application(
    signed_in, worker_user, sms_outbox, nanshan_pool, django_capture_on_commit_callbacks
):
    worker_user.phone_verified_at = timezone.now()
    worker_user.save()
    id_number = make_id_number()
    application = submit_application(
        user=worker_user, id_number=id_number, org=nanshan_pool
    )
    member = make_member(user=worker_user, phone=PHONE, id_number=id_number)
    step_up(signed_in)
    page = signed_in.get(CHANGE_PHONE)
    assert "138****5678" in page.content.decode() and PHONE not in page.content.decode()

    sent = _send_phone(signed_in)
    code = _code(sms_outbox, NEW_PHONE)  # the code goes to the NEW number
    with django_capture_on_commit_callbacks(execute=True):
        response = _confirm_phone(signed_in, code)

    assert sent.status_code == 200
    assert response.status_code == 302 and response["Location"] == "/me/"
    worker_user.refresh_from_db()
    member.refresh_from_db()
    application.refresh_from_db()
    new_hmac = blind_index(NEW_PHONE, purpose=PHONE_INDEX)
    assert worker_user.phone == NEW_PHONE and worker_user.phone_hmac == new_hmac
    assert member.phone == NEW_PHONE and member.phone_hmac == new_hmac
    assert application.phone == NEW_PHONE
    # stored encrypted, shown masked
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM members_user WHERE id = %s", [worker_user.pk])
        assert NEW_PHONE not in cursor.fetchone()[0]
    me = signed_in.get("/me/").content.decode()
    assert "139****4321" in me and NEW_PHONE not in me
    # the account gets a notice; the old number is told through the outbox
    notice = Notification.objects.get(
        template_code="account_phone_changed", channel="inbox"
    )
    assert notice.user == worker_user and NEW_PHONE not in str(notice.params)
    _deliver_due()
    assert sms_outbox[-1][0] == PHONE and "139****4321" in sms_outbox[-1][1]
    assert not any(phone == NEW_PHONE for phone, _ in sms_outbox[1:])
    (row,) = _audit("phone_change")
    assert row.outcome == "success"
    assert row.detail == {"old": "138****5678", "new": "139****4321"}
    # the new number logs in, the old one no longer does
    assert (
        Client().post("/login/", {"username": NEW_PHONE, "password": PASSWORD})[
            "Location"
        ]
        == "/login/verify/"
    )
    assert (
        Client().post("/login/", {"username": PHONE, "password": PASSWORD}).status_code
        == 200
    )


def test_change_phone_rotates_the_session_and_ends_the_others(
    signed_in, worker_user, sms_outbox
):
    """The phone is a sign-in factor (login name and SMS code): changing it
    ends every other session and trusted browser, as a new password does
    (SE4, ASVS 7.4.3); this browser stays signed in and trusted."""
    step_up(signed_in)
    signed_in.cookies[COOKIE] = trusted_device_value(worker_user, device="dev1")
    other = Client()
    other.force_login(worker_user)
    other_cookie = trusted_device_value(worker_user, device="dev2")
    before = signed_in.cookies["sessionid"].value
    assert other.get("/me/").status_code == 200

    _send_phone(signed_in)
    response = _confirm_phone(signed_in, _code(sms_outbox, NEW_PHONE))

    assert response.status_code == 302 and response["Location"] == "/me/"
    assert signed_in.cookies["sessionid"].value != before
    assert signed_in.get("/me/").status_code == 200
    assert other.get("/me/")["Location"].startswith("/login/")
    worker_user.refresh_from_db()
    assert worker_user.session_epoch == 1
    assert COOKIE in response.cookies
    fresh = Client()
    fresh.cookies[COOKIE] = response.cookies[COOKIE].value
    assert (
        fresh.post("/login/", {"username": NEW_PHONE, "password": PASSWORD})["Location"]
        == "/me/"
    )
    stale = Client()
    stale.cookies[COOKIE] = other_cookie
    assert (
        stale.post("/login/", {"username": NEW_PHONE, "password": PASSWORD})["Location"]
        == "/login/verify/"
    )


def test_change_phone_on_an_untrusted_browser_sets_no_cookie(
    signed_in, worker_user, sms_outbox
):
    step_up(signed_in)
    _send_phone(signed_in)
    response = _confirm_phone(signed_in, _code(sms_outbox, NEW_PHONE))
    assert response.status_code == 302
    assert COOKIE not in response.cookies


def test_session_hash_at_epoch_zero_is_djangos_own(worker_user):
    """Sessions and trusted-device cookies stamped before session_epoch existed
    stay valid: at 0 the hash is AbstractBaseUser's."""
    from django.contrib.auth.base_user import AbstractBaseUser

    assert worker_user.session_epoch == 0
    assert worker_user.get_session_auth_hash() == (
        AbstractBaseUser._get_session_auth_hash(worker_user)
    )
    worker_user.session_epoch = 1
    raised = worker_user.get_session_auth_hash()
    assert raised != AbstractBaseUser._get_session_auth_hash(worker_user)
    worker_user.session_epoch = 2
    assert worker_user.get_session_auth_hash() != raised


def test_a_failed_phone_change_keeps_the_other_sessions(
    signed_in, worker_user, sms_outbox
):
    step_up(signed_in)
    other = Client()
    other.force_login(worker_user)
    _send_phone(signed_in)
    code = _code(sms_outbox, NEW_PHONE)

    response = _confirm_phone(signed_in, _wrong(code))

    assert response.status_code == 400
    assert other.get("/me/").status_code == 200
    worker_user.refresh_from_db()
    assert worker_user.session_epoch == 0


def test_change_phone_code_from_another_session_or_number_is_refused(
    signed_in, worker_user, sms_outbox
):
    step_up(signed_in)
    _send_phone(signed_in)
    code = _code(sms_outbox, NEW_PHONE)
    other = Client()
    other.force_login(worker_user)
    step_up(other)

    elsewhere = _confirm_phone(other, code)
    other_number = _confirm_phone(signed_in, code, phone="13900000000")

    assert elsewhere.status_code == 400 and other_number.status_code == 400
    worker_user.refresh_from_db()
    assert worker_user.phone == PHONE
    assert _confirm_phone(signed_in, code).status_code == 302


def test_change_phone_wrong_and_expired_codes(signed_in, worker_user, sms_outbox):
    step_up(signed_in)
    _send_phone(signed_in)
    code = _code(sms_outbox, NEW_PHONE)

    wrong = _confirm_phone(signed_in, _wrong(code))
    OneTimeCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = _confirm_phone(signed_in, code)

    assert wrong.status_code == expired.status_code == 400
    assert "验证码不正确或已过期" in expired.content.decode()
    worker_user.refresh_from_db()
    assert worker_user.phone == PHONE
    assert [r.detail["reason"] for r in _audit("phone_change")] == [
        "wrong_code",
        "wrong_code",
    ]


def test_change_phone_to_a_number_in_use_is_a_form_error(
    signed_in, worker_user, sms_outbox
):
    make_user(phone=NEW_PHONE)
    make_member(phone="13900000001")
    step_up(signed_in)

    taken_account = _send_phone(signed_in)
    taken_member = _send_phone(signed_in, "13900000001")
    same = _send_phone(signed_in, PHONE)

    for response in (taken_account, taken_member):
        assert response.status_code == 400
        assert "该手机号已被其他账号使用" in response.content.decode()
    assert same.status_code == 400 and "相同" in same.content.decode()
    assert sms_outbox == []


def test_change_phone_taken_meanwhile_is_a_form_error(
    signed_in, worker_user, sms_outbox
):
    step_up(signed_in)
    _send_phone(signed_in)
    code = _code(sms_outbox, NEW_PHONE)
    make_user(phone=NEW_PHONE)  # another account registers it in between

    response = _confirm_phone(signed_in, code)

    assert response.status_code == 400
    assert "该手机号已被其他账号使用" in response.content.decode()
    worker_user.refresh_from_db()
    assert worker_user.phone == PHONE


def test_change_phone_race_is_settled_by_the_unique_index(
    signed_in, worker_user, sms_outbox, monkeypatch
):
    """Both checks passed, then the other account commits first: the database
    constraint refuses the second, and the worker sees a form error."""
    step_up(signed_in)
    _send_phone(signed_in)
    code = _code(sms_outbox, NEW_PHONE)
    make_user(phone=NEW_PHONE)
    monkeypatch.setattr(account_security, "_phone_in_use", lambda **kw: False)
    sent = len(sms_outbox)

    response = _confirm_phone(signed_in, code)

    assert response.status_code == 400
    assert "该手机号已被其他账号使用" in response.content.decode()
    worker_user.refresh_from_db()
    assert worker_user.phone == PHONE
    assert len(sms_outbox) == sent  # no "phone changed" SMS
    assert not Notification.objects.filter(template_code="account_phone_changed")
    assert _audit("phone_change")[-1].detail == {"reason": "phone_taken"}


def test_change_phone_sends_are_limited(signed_in, worker_user, sms_outbox, settings):
    settings.PHONE_CHANGE_SMS_RATE = "3/hour"
    step_up(signed_in)

    statuses = [_send_phone(signed_in, f"1390000000{i}").status_code for i in range(4)]

    assert statuses == [200, 200, 200, 429]
    assert len(sms_outbox) == 3


def test_change_phone_per_number_quota(signed_in, worker_user, sms_outbox):
    step_up(signed_in)
    statuses = [_send_phone(signed_in).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert _audit("phone_change_code_send", outcome="denied")


def test_change_phone_old_number_notice_is_retried_when_the_gateway_fails(
    signed_in, worker_user, sms_outbox
):
    step_up(signed_in)
    _send_phone(signed_in)
    code = _code(sms_outbox, NEW_PHONE)
    response = _confirm_phone(signed_in, code)
    assert response.status_code == 302
    worker_user.refresh_from_db()
    assert worker_user.phone == NEW_PHONE
    # the notice to the old number is an outbox row holding that number encrypted
    row = Notification.objects.get(template_code="account_phone_changed", channel="sms")
    assert row.to_phone == PHONE
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_phone FROM members_notification WHERE id = %s", [row.pk]
        )
        assert PHONE not in cursor.fetchone()[0]

    # when the gateway is down, the row waits for a retry instead of being lost
    class Down:
        def send_template(self, phone, **_):
            raise SmsError("gateway down", transient=True)

    _deliver_due(backend=Down())
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 1)
    assert "gateway down" in row.last_error

    # and reaches the old number once the gateway is back
    _deliver_due(at=row.due_at)
    row.refresh_from_db()
    assert row.status == "sent"
    assert [p for p, _ in sms_outbox].count(PHONE) == 1


@pytest.mark.parametrize(
    "phone",
    ["", "1" * 10_000, "139\x0087654321", "<script>alert(1)</script>", "23987654321"],
)
def test_change_phone_hostile_phone(signed_in, worker_user, sms_outbox, phone):
    step_up(signed_in)
    response = _send_phone(signed_in, phone)
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert sms_outbox == []


def test_change_phone_full_width_number_is_normalised(
    signed_in, worker_user, sms_outbox
):
    step_up(signed_in)
    _send_phone(signed_in, "１３９８７６５４３２１")
    response = _confirm_phone(
        signed_in, _code(sms_outbox, NEW_PHONE), phone="+86 139-8765-4321"
    )
    assert response.status_code == 302
    worker_user.refresh_from_db()
    assert worker_user.phone == NEW_PHONE


@pytest.mark.parametrize(
    "code", ["", "１２３４５６", "1" * 10_000, "12\x003456", "<b>123456</b>"]
)
def test_change_phone_hostile_code(signed_in, worker_user, sms_outbox, code):
    step_up(signed_in)
    _send_phone(signed_in)

    response = _confirm_phone(signed_in, code)

    assert response.status_code == 400
    assert "<b>123456</b>" not in response.content.decode()
    assert OneTimeCode.objects.get(purpose="phone_change").attempts == 0
    worker_user.refresh_from_db()
    assert worker_user.phone == PHONE
