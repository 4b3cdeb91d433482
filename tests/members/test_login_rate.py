"""Login attempt rate limits (security.md AU2, AU3): per client address and per
normalised username, counted before any password is hashed."""

from __future__ import annotations

import logging
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.cache import caches
from django.test import override_settings
from django.urls import reverse

from members.login_rate import username_ident
from portal import throttling
from portal.throttling import ThrottleUnavailable
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PHONE = "13612345678"
PASSWORD = "correct horse battery staple"  # tests.factories.make_user
LOGIN = "members:login"
ADMIN_LOGIN = "admin:login"


@pytest.fixture(autouse=True)
def fresh_counters(monkeypatch):
    now = {"t": 1_000_040.0}  # 20 s into a 60 s window
    monkeypatch.setattr(throttling.time, "time", lambda: now["t"])
    caches["default"].clear()
    yield now
    caches["default"].clear()


_encode, _verify = MD5PasswordHasher.encode, MD5PasswordHasher.verify


@pytest.fixture
def spies():
    """authenticate() as the login form calls it, and the test hasher: neither
    may run for a refused attempt."""
    with (
        mock.patch(
            "django.contrib.auth.forms.authenticate", wraps=authenticate
        ) as auth_spy,
        mock.patch.object(
            MD5PasswordHasher, "encode", autospec=True, side_effect=_encode
        ) as encode_spy,
        mock.patch.object(
            MD5PasswordHasher, "verify", autospec=True, side_effect=_verify
        ) as verify_spy,
    ):
        yield {"authenticate": auth_spy, "encode": encode_spy, "verify": verify_spy}


def _reset(spies):
    for spy in spies.values():
        spy.reset_mock()


def _assert_not_hashed(spies):
    for name, spy in spies.items():
        assert not spy.called, name


WRONG = "wrong password"


def _post(client, username, *, url=LOGIN, password=WRONG, **extra):
    return client.post(
        reverse(url), {"username": username, "password": password}, **extra
    )


@override_settings(LOGIN_RATE_PER_IP="3/min", LOGIN_RATE_PER_USERNAME="100/min")
def test_one_address_spraying_usernames_gets_429_before_any_hash(client, spies):
    # given: three attempts from one address, each a different phone
    for i in range(3):
        ok = _post(client, f"1361234567{i}", REMOTE_ADDR="10.0.0.1")
        assert ok.status_code == 200
    assert spies["authenticate"].call_count == 3
    assert spies["encode"].called  # unknown phones are hashed too (PhoneBackend)
    _reset(spies)

    # when: a fourth, for yet another phone
    refused = _post(client, "13612345679", REMOTE_ADDR="10.0.0.1")

    # then: 429 on the login page, with Retry-After; nothing hashed
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert "登录尝试过于频繁" in refused.content.decode()
    assert refused.templates[0].name == "members/login.html"
    _assert_not_hashed(spies)
    # and another address is not affected
    assert _post(client, "13612345679", REMOTE_ADDR="10.0.0.2").status_code == 200


@override_settings(LOGIN_RATE_PER_IP="100/min", LOGIN_RATE_PER_USERNAME="2/min")
def test_one_phone_from_many_addresses_is_limited_in_any_normal_form(client, spies):
    make_user(phone=PHONE)
    _post(client, PHONE, REMOTE_ADDR="10.0.0.1")
    _post(client, "+86 136-1234-5678", REMOTE_ADDR="10.0.0.2")
    _reset(spies)

    # even the right password, from a third address, in a third form
    refused = _post(
        client, "008613612345678", password=PASSWORD, REMOTE_ADDR="10.0.0.3"
    )

    assert refused.status_code == 429
    _assert_not_hashed(spies)
    assert not refused.wsgi_request.user.is_authenticated
    # another username from the same address still goes through
    assert _post(client, "13612345670", REMOTE_ADDR="10.0.0.3").status_code == 200


@override_settings(LOGIN_RATE_PER_IP="100/min", LOGIN_RATE_PER_USERNAME="2/min")
def test_staff_usernames_count_together_whatever_their_case(client, spies):
    for username in ("Admin", "admin"):
        assert _post(client, username, url=ADMIN_LOGIN).status_code == 200

    assert _post(client, "ＡＤＭＩＮ ", url=ADMIN_LOGIN).status_code == 429


@override_settings(LOGIN_RATE_PER_IP="2/min", LOGIN_RATE_PER_USERNAME="100/min")
def test_a_forged_x_forwarded_for_does_not_change_the_counted_address(client, spies):
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0  # PROXY_COUNT=0
    for i in range(2):
        _post(client, PHONE, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"1.2.3.{i}")
    _reset(spies)

    refused = _post(
        client, PHONE, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="9.9.9.9"
    )

    assert refused.status_code == 429
    _assert_not_hashed(spies)


def test_behind_one_proxy_the_forwarded_address_is_counted(client):
    # one override only: a `settings` fixture change inside an override_settings
    # decorator would outlive the test
    with override_settings(
        LOGIN_RATE_PER_IP="2/min",
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1},
    ):
        for _ in range(2):
            _post(client, PHONE, HTTP_X_FORWARDED_FOR="1.2.3.4")

        assert _post(client, PHONE, HTTP_X_FORWARDED_FOR="1.2.3.4").status_code == 429
        assert _post(client, PHONE, HTTP_X_FORWARDED_FOR="5.6.7.8").status_code == 200


@override_settings(LOGIN_RATE_PER_IP="2/min", LOGIN_RATE_PER_USERNAME="2/min")
def test_the_counts_reset_after_the_window(client, fresh_counters):
    make_user(phone=PHONE)
    _post(client, PHONE)
    _post(client, PHONE)
    limited = _post(client, PHONE, password=PASSWORD)
    assert limited.status_code == 429
    wait = int(limited["Retry-After"])

    fresh_counters["t"] += wait + 60  # past the window and the one sliding out

    assert _post(client, PHONE, password=PASSWORD).status_code == 302


@pytest.mark.parametrize("url", [LOGIN, ADMIN_LOGIN])
def test_redis_down_is_503_on_the_login_page_not_500(client, spies, url):
    with mock.patch(
        "members.login_rate.rate_limit_wait", side_effect=ThrottleUnavailable("down")
    ):
        response = _post(client, PHONE, url=url)

    assert response.status_code == 503
    assert response["Retry-After"]
    assert "登录服务暂时不可用" in response.content.decode()
    _assert_not_hashed(spies)


@override_settings(LOGIN_RATE_PER_IP="2/min", LOGIN_RATE_PER_USERNAME="100/min")
def test_admin_login_is_limited_before_the_hash(client, spies, nanshan):
    from tests.factories import make_staff

    make_staff(org=nanshan, username="rv")
    _post(client, "rv", url=ADMIN_LOGIN)
    _post(client, "someone", url=ADMIN_LOGIN)
    _reset(spies)

    refused = _post(client, "rv", url=ADMIN_LOGIN, password=PASSWORD)

    assert refused.status_code == 429
    assert refused["Retry-After"]
    assert "登录尝试过于频繁" in refused.content.decode()
    assert refused.templates[0].name == "admin/login.html"
    _assert_not_hashed(spies)
    assert not refused.wsgi_request.user.is_authenticated


@override_settings(LOGIN_RATE_PER_IP="100/min", LOGIN_RATE_PER_USERNAME="1/min")
def test_the_refusal_is_logged_without_the_phone(client, caplog):
    _post(client, PHONE)
    with caplog.at_level(logging.WARNING, logger="members.login_rate"):
        assert _post(client, PHONE).status_code == 429

    assert "login rate limited" in caplog.text
    assert username_ident(PHONE) in caplog.text
    assert PHONE not in caplog.text
    assert PHONE not in "".join(caches["default"]._cache.keys())  # locmem keys


def test_the_counter_id_is_a_keyed_hash_of_the_normalised_username():
    assert username_ident(PHONE) == username_ident("+86 136 1234 5678")
    assert username_ident("Admin") == username_ident("admin")
    assert username_ident(PHONE) != username_ident("13612345670")
    assert PHONE not in username_ident(PHONE)
    assert len(username_ident("x" * 10_000)) == 32


@pytest.mark.parametrize("url", [LOGIN, ADMIN_LOGIN])
@pytest.mark.parametrize(
    "username",
    [
        "x" * 10_000,
        "136\x0012345678",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "\u202e13612345678",
        "",
        "１３６１２３４５６７８",
    ],
)
@override_settings(LOGIN_RATE_PER_IP="3/min", LOGIN_RATE_PER_USERNAME="3/min")
def test_hostile_usernames_never_500(client, url, username):
    statuses = [_post(client, username, url=url).status_code for _ in range(5)]

    assert set(statuses) <= {200, 429}
    assert statuses[-1] == 429  # the address's limit still holds
    body = _post(client, username, url=url).content.decode()
    assert "<script>alert(1)</script>" not in body


@override_settings(LOGIN_RATE_PER_IP="100/min", LOGIN_RATE_PER_USERNAME="100/min")
def test_within_the_limits_login_works_as_before(client):
    make_user(phone=PHONE)

    response = _post(client, PHONE, password=PASSWORD)

    assert response.status_code == 302


@pytest.mark.parametrize(
    ("typed", "secret"),
    [
        ("136 1234 5678", "12345678"),  # a phone: the normal form is hashed
        ("440305199003071236", "199003071236"),  # an ID number in the phone box
        ("1361234567", "1234567"),  # a phone one digit short
    ],
)
def test_axes_never_stores_personal_digits_typed_as_a_username(client, typed, secret):
    from axes.models import AccessAttempt, AccessFailureLog

    _post(client, typed)

    stored = [a.username for a in AccessAttempt.objects.all()] + [
        a.username for a in AccessFailureLog.objects.all()
    ]
    assert stored
    assert all(secret not in s for s in stored), stored
    assert all(s.startswith(("phone:", "typed:")) for s in stored), stored


def test_axes_keeps_a_staff_username_readable_for_whoever_unlocks_it(client):
    from axes.models import AccessAttempt

    _post(client, "rv_nanshan", url=ADMIN_LOGIN)

    assert AccessAttempt.objects.get().username == "rv_nanshan"
