"""Review findings on the account-security pages (enumeration, throttling)."""

from __future__ import annotations

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
