"""Worker accounts: SMS codes (security.md AU5), registration, login lockout (AU2)."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from members.actions import accounts as a
from members.models import AuditLog, OneTimeCode, User
from members.sms import SmsError
from portal.exceptions import ApplicationError
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PHONE = "13612345678"
PASSWORD = "晚上送完外卖回家睡觉 2026"


def _code(outbox, phone=PHONE):
    text = [t for p, t in outbox if p == phone][-1]
    return re.search(r"\d{6}", text).group(0)


def test_send_texts_six_digits_and_stores_only_a_hash(sms_outbox):
    otp = a.otp_send(phone=PHONE)

    assert len(sms_outbox) == 1
    phone, text = sms_outbox[0]
    assert phone == PHONE
    code = re.search(r"验证码是(\d{6}),", text).group(1)
    otp.refresh_from_db()
    assert code not in otp.code_hash
    assert len(otp.code_hash) == 64
    assert otp.expires_at - otp.created_at == timedelta(minutes=5)


def test_code_verifies_once(sms_outbox):
    a.otp_send(phone=PHONE)
    code = _code(sms_outbox)

    a.otp_verify(phone=PHONE, code=code)
    with pytest.raises(ApplicationError) as exc:
        a.otp_verify(phone=PHONE, code=code)

    assert exc.value.message == a.MSG_OTP_INVALID


def test_code_is_bound_to_phone_and_purpose(sms_outbox):
    a.otp_send(phone=PHONE, purpose="register")
    code = _code(sms_outbox)

    with pytest.raises(ApplicationError):
        a.otp_verify(phone="13612345679", code=code)
    with pytest.raises(ApplicationError):
        a.otp_verify(phone=PHONE, code=code, purpose="login")
    a.otp_verify(phone=PHONE, code=code, purpose="register")


def test_expired_code_is_refused(sms_outbox):
    otp = a.otp_send(phone=PHONE)
    code = _code(sms_outbox)
    OneTimeCode.objects.filter(pk=otp.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    with pytest.raises(ApplicationError) as exc:
        a.otp_verify(phone=PHONE, code=code)

    assert exc.value.message == a.MSG_OTP_INVALID
    assert OneTimeCode.objects.get(pk=otp.pk).used_at is None


def test_five_wrong_tries_lock_the_code(sms_outbox):
    otp = a.otp_send(phone=PHONE)
    code = _code(sms_outbox)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        with pytest.raises(ApplicationError) as exc:
            a.otp_verify(phone=PHONE, code=wrong)
        assert exc.value.message == a.MSG_OTP_INVALID

    with pytest.raises(ApplicationError) as exc:
        a.otp_verify(phone=PHONE, code=code)

    assert exc.value.message == a.MSG_OTP_LOCKED
    otp.refresh_from_db()
    assert otp.attempts == 5
    assert otp.used_at is None


def test_sixth_send_in_an_hour_is_refused(sms_outbox):
    for _ in range(5):
        a.otp_send(phone=PHONE)

    with pytest.raises(a.OtpRateLimited):
        a.otp_send(phone=PHONE)

    assert len(sms_outbox) == 5
    assert OneTimeCode.objects.count() == 5
    a.otp_send(phone="13612345679")  # another phone is not affected


def test_a_new_code_replaces_the_old_one(sms_outbox):
    a.otp_send(phone=PHONE)
    old = _code(sms_outbox)
    a.otp_send(phone=PHONE)
    new = _code(sms_outbox)

    if old != new:
        with pytest.raises(ApplicationError):
            a.otp_verify(phone=PHONE, code=old)
    a.otp_verify(phone=PHONE, code=new)


def test_register_journey_through_the_view(client, sms_outbox):
    url = reverse("members:register")
    response = client.post(url, {"phone": "136 1234 5678", "action": "send_code"})
    assert response.status_code == 200
    code = _code(sms_outbox)

    response = client.post(
        url,
        {
            "phone": "+8613612345678",
            "code": code,
            "password1": PASSWORD,
            "password2": PASSWORD,
            "action": "register",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("members:join")
    user = User.objects.get()
    assert user.phone == PHONE
    assert user.phone_verified_at is not None
    assert user.check_password(PASSWORD)
    assert AuditLog.objects.filter(action="account_register", actor=user).count() == 1
    (login,) = AuditLog.objects.filter(action="login")  # security.md LG1
    assert login.actor == user and login.detail == {"via": "members:register"}


def test_register_when_the_sms_gateway_fails_is_a_message_not_a_500(
    client, sms_outbox, monkeypatch
):
    def broken(phone, **kwargs):
        raise SmsError("gateway down")

    monkeypatch.setattr(a, "send_sms_template", broken)

    response = client.post(
        reverse("members:register"), {"phone": PHONE, "action": "send_code"}
    )

    assert response.status_code == 503
    assert "短信发送失败" in response.content.decode()
    assert not OneTimeCode.objects.exists()  # the failed send is not counted


def test_register_refuses_weak_password_without_using_the_code(client, sms_outbox):
    url = reverse("members:register")
    client.post(url, {"phone": PHONE, "action": "send_code"})
    code = _code(sms_outbox)

    response = client.post(
        url,
        {
            "phone": PHONE,
            "code": code,
            "password1": "gonghui123456",
            "password2": "gonghui123456",
            "action": "register",
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    assert not User.objects.exists()
    assert OneTimeCode.objects.get().used_at is None


def test_register_with_a_wrong_code_and_a_taken_phone(client, sms_outbox):
    url = reverse("members:register")
    client.post(url, {"phone": PHONE, "action": "send_code"})
    data = {
        "phone": PHONE,
        "code": "000000" if _code(sms_outbox) != "000000" else "111111",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "action": "register",
    }
    response = client.post(url, data)
    assert response.status_code == 200
    assert a.MSG_OTP_INVALID in response.content.decode()
    assert not User.objects.exists()

    make_user(phone=PHONE)
    response = client.post(url, {**data, "code": _code(sms_outbox)})
    assert response.status_code == 200
    assert a.MSG_PHONE_TAKEN in response.content.decode()
    assert User.objects.count() == 1


def test_sixth_send_through_the_view_is_429(client, sms_outbox):
    url = reverse("members:register")
    for _ in range(5):
        assert (
            client.post(url, {"phone": PHONE, "action": "send_code"}).status_code == 200
        )

    response = client.post(url, {"phone": PHONE, "action": "send_code"})

    assert response.status_code == 429
    assert a.MSG_OTP_TOO_MANY_SENDS in response.content.decode()
    assert len(sms_outbox) == 5


@pytest.mark.parametrize("phone", ["", "12345", "1" * 200, "<script>", "\x00"])
def test_malformed_phone_is_a_form_error(client, sms_outbox, phone):
    response = client.post(
        reverse("members:register"), {"phone": phone, "action": "send_code"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["phone"]
    assert sms_outbox == []


def test_login_locks_per_account_and_ip_after_five_failures(client):
    # given
    make_user(phone=PHONE)
    url = reverse("members:login")
    ip1 = {"REMOTE_ADDR": "10.0.0.1"}
    for _ in range(5):
        bad = client.post(url, {"username": PHONE, "password": "wrong"}, **ip1)
        assert bad.status_code in (200, 429)
    # when: the right password from the same IP
    locked = client.post(
        url, {"username": PHONE, "password": "correct horse battery staple"}, **ip1
    )
    # then
    assert locked.status_code == 429
    other_ip = client.post(
        url,
        {"username": PHONE, "password": "correct horse battery staple"},
        REMOTE_ADDR="10.0.0.2",
    )
    assert other_ip.status_code == 302


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("zh-hans", "密码太短,至少需要 12 个字符。"),
        ("en", "This password is too short. It must contain at least 12 characters."),
    ],
)
def test_register_tells_a_short_password_in_the_workers_language(
    client, sms_outbox, language, message
):
    url = reverse("members:register")
    client.post(url, {"phone": PHONE, "action": "send_code"})

    response = client.post(
        url,
        {
            "phone": PHONE,
            "code": _code(sms_outbox),
            "password1": "送外卖1",
            "password2": "送外卖1",
            "action": "register",
        },
        HTTP_ACCEPT_LANGUAGE=language,
    )

    assert response.status_code == 200
    assert response.context["form"].errors["password1"] == [message]
    assert not User.objects.exists()


@pytest.mark.parametrize(
    "password",
    ["短1", "12345678901234", "password1234", "gonghui12345", "13612345678a"],
)
def test_every_password_rule_speaks_chinese_and_english(password):
    user = User(username=PHONE)
    with translation.override("zh-hans"), pytest.raises(ValidationError) as zh:
        validate_password(password, user)
    with translation.override("en"), pytest.raises(ValidationError) as en:
        validate_password(password, user)

    assert all(re.search(r"[\u4e00-\u9fff]", m) for m in zh.value.messages)
    assert not any(re.search(r"[a-zA-Z]{4}", m) for m in zh.value.messages)
    assert not any(re.search(r"[\u4e00-\u9fff]", m) for m in en.value.messages)


@pytest.mark.parametrize(
    "passphrase",
    [
        "送完最后一单回家路上买两个包子给孩子当明天的早饭然后早点睡觉明天还要早起接着跑单子加油呀朋友们一起加油吧再来十个字凑齐六十四个字",
        "correct horse battery staple and a long ride home in the rain 64",
    ],
)
def test_register_accepts_a_64_character_passphrase(client, sms_outbox, passphrase):
    """security.md AU1: at least 64 characters allowed, no composition rules."""
    assert len(passphrase) == 64
    url = reverse("members:register")
    client.post(url, {"phone": PHONE, "action": "send_code"})

    response = client.post(
        url,
        {
            "phone": PHONE,
            "code": _code(sms_outbox),
            "password1": passphrase,
            "password2": passphrase,
            "action": "register",
        },
    )

    assert response.status_code == 302, response.context["form"].errors
    assert User.objects.get().check_password(passphrase)
