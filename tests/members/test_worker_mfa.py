"""Workers' second factor (security.md AU4): an SMS code on a new device, a
trusted-device cookie afterwards, and a fresh code before sensitive reveals and
changes. Staff keep TOTP (tests/members/test_mfa.py)."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from members.actions import accounts
from members.actions.worker_mfa import MSG_NO_PHONE, MSG_SMS_FAILED
from members.models import AuditLog, DataRequest, OneTimeCode, User
from members.sms import SmsError
from members.views_worker_mfa import MSG_PENDING_EXPIRED, MSG_PENDING_MISSING
from members.worker_mfa import (
    PENDING_KEY,
    STEP_UP_KEY,
    trusted_device_cookie_name,
    trusted_device_value,
)
from tests.factories import make_totp_device, make_user, step_up, totp_code

pytestmark = pytest.mark.django_db

PHONE = "13812345678"
PASSWORD = "correct horse battery staple"
LOGIN = "/login/"
VERIFY = "/login/verify/"
STEP_UP = "/me/verify/"
COOKIE = "trusted_device"  # tests run with insecure cookies (no __Host- prefix)


@pytest.fixture
def worker_user(db):
    return make_user(phone=PHONE)


def _code(outbox, phone=PHONE) -> str:
    sent_to, text = outbox[-1]
    assert sent_to == phone
    return re.search(r"\d{6}", text).group(0)


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def _password(client, username=PHONE, password=PASSWORD, next_url=None):
    url = LOGIN if next_url is None else f"{LOGIN}?next={next_url}"
    return client.post(url, {"username": username, "password": password})


def _new_device_login(client, outbox, *, next_url=None):
    response = _password(client, next_url=next_url)
    assert response.status_code == 302
    assert response["Location"] == VERIFY
    return client.post(VERIFY, {"code": _code(outbox)})


def _signed_in_as(client) -> str | None:
    return client.session.get(SESSION_KEY)


def _audit(action, **filters):
    return list(AuditLog.objects.filter(action=action, **filters).order_by("id"))


# --- New device ------------------------------------------------------------------


def test_password_on_a_new_device_sends_a_code_and_does_not_log_in(
    client, worker_user, sms_outbox
):
    client.get(LOGIN)
    before = client.cookies["sessionid"].value if "sessionid" in client.cookies else ""

    response = _password(client)

    assert response.status_code == 302
    assert response["Location"] == VERIFY
    assert _signed_in_as(client) is None
    assert client.session[PENDING_KEY]["user"] == worker_user.pk
    assert client.cookies["sessionid"].value != before
    assert len(sms_outbox) == 1 and sms_outbox[0][0] == PHONE
    assert OneTimeCode.objects.get().purpose == "login"
    me = client.get("/me/")
    assert me.status_code == 302 and me["Location"].startswith(LOGIN)
    (row,) = _audit("worker_otp_send")
    assert row.actor == worker_user and row.outcome == "success"
    assert row.detail == {"purpose": "login", "device": "absent"}


def test_code_page_shows_the_masked_phone_only(client, worker_user, sms_outbox):
    _password(client)

    response = client.get(VERIFY)

    body = response.content.decode()
    assert response.status_code == 200
    assert "138****5678" in body and PHONE not in body
    assert "新设备登录验证" in body and "重新发送" in body
    assert response["Cache-Control"].startswith("max-age=0")


def test_right_code_logs_in_rotates_the_session_and_trusts_the_browser(
    client, worker_user, sms_outbox
):
    client.get(LOGIN)
    csrf_before = client.cookies["csrftoken"].value
    _password(client)
    pending_session = client.cookies["sessionid"].value

    response = client.post(VERIFY, {"code": _code(sms_outbox)})

    assert response.status_code == 302
    assert response["Location"] == "/me/"
    assert _signed_in_as(client) == str(worker_user.pk)
    assert client.cookies["sessionid"].value != pending_session
    assert PENDING_KEY not in client.session
    assert response.cookies["csrftoken"].value not in ("", csrf_before)
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert not cookie["secure"]
    assert int(cookie["max-age"]) == 90 * 86400
    # the cookie holds a random device id and nothing about the person
    payload = json.loads(
        base64.urlsafe_b64decode(cookie.value.split(":")[0] + "==").decode()
    )
    assert set(payload) == {"d"}
    assert PHONE not in cookie.value and "5678" not in payload["d"]
    (row,) = _audit("worker_device_verify")
    assert row.outcome == "success" and row.detail == {"device": payload["d"]}
    assert client.get("/me/").status_code == 200


def test_code_login_goes_to_the_safe_next_url(client, worker_user, sms_outbox):
    response = _new_device_login(client, sms_outbox, next_url="/messages/")

    assert response["Location"] == "/messages/"


@pytest.mark.parametrize(
    "evil", ["https://evil.example/", "//evil.example/", "/\\evil.example"]
)
def test_login_next_to_another_site_is_dropped(client, worker_user, sms_outbox, evil):
    response = _new_device_login(client, sms_outbox, next_url=evil)

    assert response["Location"] == "/me/"


def test_secure_site_sets_a_secure_host_prefixed_cookie(
    client, worker_user, sms_outbox, settings
):
    settings.SESSION_COOKIE_SECURE = True

    response = _new_device_login(client, sms_outbox)

    assert trusted_device_cookie_name() == "__Host-trusted_device"
    cookie = response.cookies["__Host-trusted_device"]
    assert cookie["secure"] is True and cookie["httponly"] is True


def test_trusted_device_logs_in_with_the_password_alone(
    client, worker_user, sms_outbox
):
    _new_device_login(client, sms_outbox)
    client.post("/logout/")
    assert _signed_in_as(client) is None
    sms_outbox.clear()

    response = _password(client)

    assert response.status_code == 302
    assert response["Location"] == "/me/"
    assert _signed_in_as(client) == str(worker_user.pk)
    assert sms_outbox == []
    (row,) = _audit("worker_device_trusted")
    assert row.actor == worker_user
    assert row.detail["device"] == _audit("worker_device_verify")[0].detail["device"]
    # a trusted device is not a fresh code: sensitive pages still ask for one
    assert STEP_UP_KEY not in client.session


def test_wrong_password_on_a_trusted_device_is_still_refused(
    client, worker_user, sms_outbox
):
    _new_device_login(client, sms_outbox)
    client.post("/logout/")

    response = _password(client, password="not the password at all")

    assert response.status_code == 200
    assert "手机号(用户名)或密码不正确。" in response.content.decode()
    assert _signed_in_as(client) is None


def test_cookie_of_another_user_is_refused(client, worker_user, sms_outbox):
    other = make_user(phone="13900001111")
    client.cookies[COOKIE] = trusted_device_value(other)

    response = _password(client)

    assert response["Location"] == VERIFY
    assert _signed_in_as(client) is None
    assert _audit("worker_otp_send")[0].detail["device"] == "invalid"


def test_cookie_signed_before_a_password_change_is_refused(
    client, worker_user, sms_outbox
):
    _new_device_login(client, sms_outbox)
    client.post("/logout/")
    worker_user.set_password("a whole new passphrase 2026")
    worker_user.save()

    response = _password(client, password="a whole new passphrase 2026")

    assert response["Location"] == VERIFY
    assert _signed_in_as(client) is None
    assert _audit("worker_otp_send")[-1].detail["device"] == "invalid"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda v: v[:-1] + ("A" if v[-1] != "A" else "B"),
        lambda v: signing.dumps({"d": "x"}, salt="members.worker_mfa.trusted_device"),
        lambda v: "garbage",
        lambda v: (
            base64.urlsafe_b64encode(b'{"d":"mine"}').decode().rstrip("=")
            + v[v.index(":") :]
        ),
    ],
)
def test_tampered_cookie_is_refused(client, worker_user, sms_outbox, tamper):
    _new_device_login(client, sms_outbox)
    client.post("/logout/")
    client.cookies[COOKIE] = tamper(client.cookies[COOKIE].value)

    response = _password(client)

    assert response["Location"] == VERIFY
    assert _signed_in_as(client) is None


def test_expired_cookie_is_refused(client, worker_user, sms_outbox, monkeypatch):
    _new_device_login(client, sms_outbox)
    client.post("/logout/")
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 91 * 86400)

    response = _password(client)

    assert response["Location"] == VERIFY
    assert _audit("worker_otp_send")[-1].detail["device"] == "expired"


def test_wrong_code_is_a_clear_error_and_counts(client, worker_user, sms_outbox):
    _password(client)

    response = client.post(VERIFY, {"code": _wrong(_code(sms_outbox))})

    assert response.status_code == 400
    assert accounts.MSG_OTP_INVALID in response.content.decode()
    assert _signed_in_as(client) is None
    assert OneTimeCode.objects.get().attempts == 1
    (row,) = _audit("worker_device_verify")
    assert row.outcome == "failure" and row.detail == {"reason": "wrong_code"}


@pytest.mark.parametrize("code", ["", "12345", "abcdef", "1234567", "１２３４５６"])
def test_malformed_code_is_a_form_error(client, worker_user, sms_outbox, code):
    _password(client)

    response = client.post(VERIFY, {"code": code})

    assert response.status_code == 400
    assert response.context["form"].errors["code"]
    assert OneTimeCode.objects.get().attempts == 0


def test_sixth_try_is_locked_even_with_the_right_code(client, worker_user, sms_outbox):
    _password(client)
    code = _code(sms_outbox)
    for _ in range(5):
        assert client.post(VERIFY, {"code": _wrong(code)}).status_code == 400

    response = client.post(VERIFY, {"code": code})

    assert response.status_code == 429
    assert accounts.MSG_OTP_LOCKED in response.content.decode()
    assert _signed_in_as(client) is None
    assert _audit("worker_device_verify")[-1].outcome == "denied"
    # a new code (resend) works again
    client.post(VERIFY, {"action": "send"})
    assert client.post(VERIFY, {"code": _code(sms_outbox)}).status_code == 302


def test_expired_code_is_refused(client, worker_user, sms_outbox):
    _password(client)
    OneTimeCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.post(VERIFY, {"code": _code(sms_outbox)})

    assert response.status_code == 400
    assert accounts.MSG_OTP_INVALID in response.content.decode()
    assert _signed_in_as(client) is None


def test_used_code_cannot_log_in_a_second_browser(client, worker_user, sms_outbox):
    from django.test import Client

    _password(client)
    code = _code(sms_outbox)
    assert client.post(VERIFY, {"code": code}).status_code == 302

    second = Client()
    _password(second)
    sms_outbox.pop()  # the second login's own code is not used
    response = second.post(VERIFY, {"code": code})

    assert response.status_code == 400
    assert second.session.get(SESSION_KEY) is None


def test_pending_login_expires(client, worker_user, sms_outbox, monkeypatch):
    _password(client)
    code = _code(sms_outbox)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 601)

    response = client.post(VERIFY, {"code": code}, follow=True)

    assert response.redirect_chain[-1][0] == LOGIN
    assert MSG_PENDING_EXPIRED in response.content.decode()
    assert _signed_in_as(client) is None
    assert PENDING_KEY not in client.session
    assert OneTimeCode.objects.get().used_at is None  # never even checked


def test_code_page_without_a_pending_login_goes_to_the_login(client, sms_outbox):
    response = client.post(VERIFY, {"code": "123456"}, follow=True)

    assert response.redirect_chain[-1][0] == LOGIN
    assert MSG_PENDING_MISSING in response.content.decode()
    assert sms_outbox == []


def test_pending_login_dies_with_a_password_change_or_deactivation(
    client, worker_user, sms_outbox
):
    _password(client)
    code = _code(sms_outbox)
    worker_user.set_password("changed by the real owner 2026")
    worker_user.save()

    response = client.post(VERIFY, {"code": code})

    assert response.status_code == 302 and response["Location"] == LOGIN
    assert _signed_in_as(client) is None

    worker_user.is_active = False
    worker_user.save()
    client.post(
        LOGIN, {"username": PHONE, "password": "changed by the real owner 2026"}
    )
    assert PENDING_KEY not in client.session  # inactive: not even pending


def test_resend_is_rate_limited_per_phone(client, worker_user, sms_outbox):
    _password(client)  # send 1
    for _ in range(4):  # sends 2-5
        response = client.post(VERIFY, {"action": "send"})
        assert response.status_code == 200
        assert "验证码已发送" in response.content.decode()

    response = client.post(VERIFY, {"action": "send"})

    assert response.status_code == 429
    assert accounts.MSG_OTP_TOO_MANY_SENDS in response.content.decode()
    assert len(sms_outbox) == 5
    denied = _audit("worker_otp_send", outcome="denied")
    assert [row.detail["reason"] for row in denied] == ["rate_limited"]
    # the latest code still works
    assert client.post(VERIFY, {"code": _code(sms_outbox)}).status_code == 302


def test_password_step_when_the_hour_is_used_up_shows_the_limit(
    client, worker_user, sms_outbox
):
    for _ in range(5):
        accounts.otp_send(phone=PHONE, purpose="login")

    response = _password(client)
    page = client.get(VERIFY)

    assert response["Location"] == VERIFY
    assert page.status_code == 200
    assert accounts.MSG_OTP_TOO_MANY_SENDS in page.content.decode()
    assert _signed_in_as(client) is None


def test_a_stranger_using_up_registration_codes_cannot_lock_the_worker_out(
    worker_user, sms_outbox
):
    """/register/ sends a code to any number, anonymously: those sends have a
    quota of their own, so the owner still gets login and step-up codes."""
    stranger = Client()
    for _ in range(5):
        sent = stranger.post("/register/", {"phone": PHONE, "action": "send_code"})
        assert sent.status_code == 200
    refused = stranger.post("/register/", {"phone": PHONE, "action": "send_code"})

    victim = Client()
    password = _password(victim)
    login_code = _code(sms_outbox)
    verified = victim.post(VERIFY, {"code": login_code})
    signed_in = Client()
    signed_in.force_login(worker_user)
    step_up_send = signed_in.post("/me/verify/?next=/me/export/", {"action": "send"})

    assert refused.status_code == 429
    assert password["Location"] == VERIFY
    assert verified["Location"] == "/me/"
    assert step_up_send.status_code in (200, 302)
    assert len(sms_outbox) == 5 + 2  # register x5, then the login and step-up codes


def test_registration_codes_are_limited_per_client_address(settings, sms_outbox):
    from django.core.cache import cache

    cache.clear()
    settings.REGISTER_SMS_RATE = "2/hour"
    here = Client(REMOTE_ADDR="198.51.100.7")
    elsewhere = Client(REMOTE_ADDR="198.51.100.8")

    codes = [
        here.post(
            "/register/", {"phone": f"1391234567{i}", "action": "send_code"}
        ).status_code
        for i in range(3)
    ]
    other = elsewhere.post(
        "/register/", {"phone": "13912345679", "action": "send_code"}
    )

    assert codes == [200, 200, 429]
    assert other.status_code == 200
    assert len(sms_outbox) == 3
    cache.clear()


@pytest.mark.django_db(transaction=True)
def test_concurrent_wrong_guesses_never_exceed_five_attempts(sms_outbox):
    """Twelve simultaneous guesses (one right) never count past five attempts,
    and at most one of them succeeds."""
    import threading

    from django.db import connection

    from portal.exceptions import ApplicationError

    make_user(phone=PHONE)
    accounts.otp_send(phone=PHONE, purpose="login")
    right = _code(sms_outbox)
    wrong = "000000" if right != "000000" else "111111"
    outcomes: list[str] = []
    barrier = threading.Barrier(12)

    def guess(code):
        try:
            barrier.wait()
            accounts.otp_verify(phone=PHONE, code=code, purpose="login")
            outcomes.append("ok")
        except ApplicationError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=(wrong,)) for _ in range(11)]
    threads.append(threading.Thread(target=guess, args=(right,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert OneTimeCode.objects.get().attempts <= 5
    assert outcomes.count("ok") <= 1
    assert outcomes.count("ok") == 1 or outcomes.count("otp_locked") >= 6


def test_a_code_only_verifies_in_the_browser_session_that_asked_for_it(
    worker_user, sms_outbox
):
    """security.md AU5: codes are bound to the phone and the request. A code
    read off the phone and typed into another pending login is refused."""
    asked = Client()
    other = Client()
    _password(other)  # a second pending login for the same account
    _password(asked)  # the latest code, for `asked`'s session
    code = _code(sms_outbox)

    elsewhere = other.post(VERIFY, {"code": code})
    here = asked.post(VERIFY, {"code": code})

    assert elsewhere.status_code == 400
    assert _signed_in_as(other) is None
    assert here["Location"] == "/me/"
    assert _signed_in_as(asked) == str(worker_user.pk)


def test_a_step_up_code_only_verifies_in_its_own_session(worker_user, sms_outbox):
    first = Client()
    second = Client()
    first.force_login(worker_user)
    second.force_login(worker_user)
    first.post(STEP_UP + "?next=/me/export/", {"action": "send"})
    code = _code(sms_outbox)

    refused = second.post(STEP_UP + "?next=/me/export/", {"code": code})
    accepted = first.post(STEP_UP + "?next=/me/export/", {"code": code})

    assert refused.status_code == 400
    assert accepted["Location"] == "/me/export/"


@pytest.mark.parametrize(
    "code",
    [
        "",
        " ",
        "12345",
        "1234567",
        "１２３４５６",
        "12345６",
        "x" * 10_000,
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "\x00\x00\x00\x00\x00\x00",
    ],
)
def test_hostile_codes_are_a_form_error_never_a_500(
    client, worker_user, sms_outbox, code
):
    _password(client)

    response = client.post(VERIFY, {"code": code})

    assert response.status_code == 400
    assert _signed_in_as(client) is None
    assert "<script>alert(1)</script>" not in response.content.decode()


def test_gateway_failure_is_a_message_not_a_500(
    client, worker_user, sms_outbox, monkeypatch
):
    def broken(phone, **kwargs):
        raise SmsError("gateway down")

    monkeypatch.setattr(accounts, "send_sms_template", broken)

    response = _password(client)
    page = client.get(VERIFY)
    resend = client.post(VERIFY, {"action": "send"})

    assert response["Location"] == VERIFY
    assert MSG_SMS_FAILED in page.content.decode()
    assert resend.status_code == 503
    assert not OneTimeCode.objects.exists()
    assert {r.detail["reason"] for r in _audit("worker_otp_send")} == {"sms_error"}


def test_worker_without_a_phone_cannot_finish_a_login(client, sms_outbox):
    make_user(username="nophone")

    response = client.post(LOGIN, {"username": "nophone", "password": PASSWORD})

    assert response.status_code == 200
    assert MSG_NO_PHONE in response.content.decode()
    assert _signed_in_as(client) is None and PENDING_KEY not in client.session


def test_wrong_password_and_unknown_phone_look_the_same(
    client, worker_user, sms_outbox
):
    wrong = _password(client, password="nope nope nope nope")
    unknown = _password(client, username="13700000000")

    assert wrong.status_code == unknown.status_code == 200
    assert wrong.context["form"].errors == unknown.context["form"].errors
    assert sms_outbox == [] and PENDING_KEY not in client.session


def test_audit_rows_hold_no_code_and_no_phone(client, worker_user, sms_outbox):
    _password(client)
    code = _code(sms_outbox)
    client.post(VERIFY, {"code": _wrong(code)})
    client.post(VERIFY, {"code": code})

    rows = AuditLog.objects.filter(action__startswith="worker_")
    assert rows.count() == 3
    for row in rows:
        text = json.dumps(row.detail) + row.reason + row.object_id
        assert code not in text and PHONE not in text and "5678" not in text


# --- Staff are unaffected ------------------------------------------------------------


def test_staff_keep_the_totp_step_and_get_no_sms(client, nanshan, sms_outbox):
    from tests.factories import make_staff

    staff = make_staff(org=nanshan, username="rv_sms", phone="13500001111")
    device = make_totp_device(staff)

    response = client.post(LOGIN, {"username": "rv_sms", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:otp_verify"))
    assert sms_outbox == [] and PENDING_KEY not in client.session
    # the worker code page is nothing to a staff session at the TOTP step
    stray = client.post(VERIFY, {"code": "123456"})
    assert stray["Location"].startswith(reverse("admin:otp_verify"))
    done = client.post(
        reverse("admin:otp_verify"), {"token": totp_code(device), "next": "/admin/"}
    )
    assert done["Location"] == "/admin/"
    assert COOKIE not in done.cookies
    # and their TOTP-verified session needs no SMS step-up either
    assert client.get("/me/export/").status_code == 200
    assert client.get(STEP_UP + "?next=/me/export/")["Location"] == "/me/export/"


# --- Step-up ---------------------------------------------------------------------


@pytest.fixture
def signed_in(client, worker_user):
    client.force_login(worker_user)
    return client


def test_export_without_a_fresh_code_goes_to_the_step_up(signed_in, sms_outbox):
    response = signed_in.post("/me/export/")

    assert response.status_code == 302
    url = urlparse(response["Location"])
    assert url.path == STEP_UP
    assert parse_qs(url.query)["next"] == ["/me/export/"]
    assert not AuditLog.objects.filter(action="personal_data_export").exists()
    get = signed_in.get("/me/export/")
    assert get["Location"] == f"{STEP_UP}?next=%2Fme%2Fexport%2F"


def test_step_up_then_back_then_download(signed_in, worker_user, sms_outbox):
    page = signed_in.get(f"{STEP_UP}?next=/me/export/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "138****5678" in body and PHONE not in body
    assert 'name="next" value="/me/export/"' in body
    assert sms_outbox == []  # a GET sends nothing

    sent = signed_in.post(STEP_UP, {"action": "send", "next": "/me/export/"})
    assert sent.status_code == 200
    assert OneTimeCode.objects.get().purpose == "step_up"
    session_before = signed_in.cookies["sessionid"].value
    back = signed_in.post(STEP_UP, {"code": _code(sms_outbox), "next": "/me/export/"})

    assert back.status_code == 302 and back["Location"] == "/me/export/"
    assert signed_in.cookies["sessionid"].value != session_before
    assert signed_in.get("/me/export/").status_code == 200
    download = signed_in.post("/me/export/")
    assert download.status_code == 200
    assert json.loads(download.content)["account"]["phone"] == PHONE
    (row,) = _audit("worker_step_up_verify")
    assert row.outcome == "success" and row.actor == worker_user
    assert _audit("worker_otp_send")[0].detail == {"purpose": "step_up"}


def test_step_up_expires(signed_in, monkeypatch):
    step_up(signed_in)
    assert signed_in.get("/me/export/").status_code == 200
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 601)

    response = signed_in.get("/me/export/")

    assert response.status_code == 302
    assert response["Location"].startswith(STEP_UP)


def test_the_new_device_code_counts_as_a_fresh_step_up(client, worker_user, sms_outbox):
    _new_device_login(client, sms_outbox)

    assert client.post("/me/export/").status_code == 200


def test_step_up_wrong_code_and_lock(signed_in, sms_outbox):
    signed_in.post(STEP_UP, {"action": "send"})
    code = _code(sms_outbox)
    for _ in range(5):
        wrong = signed_in.post(STEP_UP, {"code": _wrong(code)})
        assert wrong.status_code == 400
        assert accounts.MSG_OTP_INVALID in wrong.content.decode()

    locked = signed_in.post(STEP_UP, {"code": code})

    assert locked.status_code == 429
    assert accounts.MSG_OTP_LOCKED in locked.content.decode()
    assert STEP_UP_KEY not in signed_in.session
    outcomes = [r.outcome for r in _audit("worker_step_up_verify")]
    assert outcomes == ["failure"] * 5 + ["denied"]


def test_step_up_send_is_rate_limited(signed_in, sms_outbox):
    for _ in range(5):
        assert signed_in.post(STEP_UP, {"action": "send"}).status_code == 200

    response = signed_in.post(STEP_UP, {"action": "send"})

    assert response.status_code == 429
    assert accounts.MSG_OTP_TOO_MANY_SENDS in response.content.decode()


def test_a_login_code_does_not_pass_the_step_up(client, worker_user, sms_outbox):
    _password(client)
    login_code = _code(sms_outbox)
    client.force_login(worker_user)

    response = client.post(STEP_UP, {"code": login_code})

    assert response.status_code == 400
    assert STEP_UP_KEY not in client.session


@pytest.mark.parametrize(
    "evil",
    [
        "https://evil.example/",
        "//evil.example/me/",
        "http://testserver.evil.example/",
        "javascript:alert(1)",
        "/\\evil.example",
    ],
)
def test_step_up_next_to_another_site_goes_to_me(signed_in, sms_outbox, evil):
    page = signed_in.get(STEP_UP, {"next": evil})
    assert evil not in page.content.decode()
    signed_in.post(STEP_UP, {"action": "send", "next": evil})

    response = signed_in.post(STEP_UP, {"code": _code(sms_outbox), "next": evil})

    assert response.status_code == 302
    assert response["Location"] == "/me/"


def test_step_up_needs_a_signed_in_worker(client):
    response = client.get(STEP_UP)

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_data_request_without_a_fresh_code_keeps_the_kind(signed_in, sms_outbox):
    response = signed_in.post(
        "/me/requests/", {"kind": "deletion", "note": "请删除"}, follow=False
    )

    assert response.status_code == 302
    url = urlparse(response["Location"])
    assert url.path == STEP_UP
    assert parse_qs(url.query)["next"] == ["/me/requests/?kind=deletion"]
    assert not DataRequest.objects.exists()

    step_up(signed_in)
    form_page = signed_in.get("/me/requests/?kind=deletion")
    assert form_page.status_code == 200
    assert form_page.context["form"].initial["kind"] == "deletion"
    done = signed_in.post("/me/requests/", {"kind": "deletion", "note": "请删除"})
    assert done.status_code == 302 and done["Location"] == "/me/"
    assert DataRequest.objects.get().kind == "deletion"


def test_data_request_resume_ignores_unknown_kinds(signed_in):
    response = signed_in.post("/me/requests/", {"kind": "https://evil.example"})

    assert parse_qs(urlparse(response["Location"]).query)["next"] == ["/me/requests/"]


def test_pages_that_show_only_masked_data_need_no_step_up(signed_in, worker_user):
    for path in ("/me/", "/messages/", "/services/programs/mine/"):
        assert signed_in.get(path).status_code == 200, path


def test_registration_trusts_the_browser_and_counts_as_fresh(client, sms_outbox):
    phone = "13722223333"
    client.post("/register/", {"phone": phone, "action": "send_code"})
    response = client.post(
        "/register/",
        {
            "phone": phone,
            "code": _code(sms_outbox, phone),
            "password1": "晚上送完外卖回家睡觉 2026",
            "password2": "晚上送完外卖回家睡觉 2026",
            "action": "register",
        },
    )

    assert response.status_code == 302
    user = User.objects.get()
    device = response.cookies[COOKIE]
    row = AuditLog.objects.get(action="account_register")
    assert row.detail["device"]
    assert client.session.get(STEP_UP_KEY)
    client.post("/logout/")
    sms_outbox.clear()
    again = client.post(
        LOGIN, {"username": phone, "password": "晚上送完外卖回家睡觉 2026"}
    )
    assert again["Location"] == "/me/" and sms_outbox == []
    assert device.value and _audit("worker_device_trusted")[0].actor == user


# --- Development: where the code shows up ---------------------------------------------


def test_console_backend_prints_the_login_code_for_make_run(
    client, worker_user, settings, capsys
):
    settings.SMS_BACKEND = "members.sms.ConsoleSmsBackend"

    _password(client)

    out = capsys.readouterr().out
    code = re.search(r"\[SMS → 138\*\*\*\*5678\] .*验证码是(\d{6})", out).group(1)
    assert PHONE not in out
    assert client.post(VERIFY, {"code": code})["Location"] == "/me/"


def test_seed_demo_says_where_the_sms_code_appears(settings, capsys, sz_tree):
    from django.core.management import call_command

    settings.DEBUG = True
    settings.SMS_BACKEND = "members.sms.ConsoleSmsBackend"

    call_command("seed_demo")

    out = capsys.readouterr().out
    assert "6-digit SMS code" in out
    assert "printed in this terminal" in out
    assert "[SMS → 138****8000]" in out


def test_code_pages_in_english(client, worker_user, sms_outbox):
    _password(client)

    page = client.get(VERIFY, HTTP_ACCEPT_LANGUAGE="en")

    body = page.content.decode()
    assert "<h1>Verify this new device</h1>" in body
    assert "Codes are sent to your phone 138****5678." in body
    assert "Send again" in body
