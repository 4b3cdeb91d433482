"""security.md AU2: the axes lockout (5 failures per username + IP, 429) ends
after the 15-minute cool-off, and the address it counts is the one the portal
trusts (X-Forwarded-For only for PROXY_COUNT hops): a forged header neither
moves a client to a fresh counter nor lets a stranger lock a worker out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_user

pytestmark = pytest.mark.django_db

PHONE = "13612345678"
RIGHT = "correct horse battery staple"


def _login(client, password, **meta):
    return client.post(
        reverse("members:login"), {"username": PHONE, "password": password}, **meta
    )


def _fail_five_times(client, meta_for_try):
    for i in range(5):
        response = _login(client, "wrong password", **meta_for_try(i))
        assert response.status_code in (200, 429)


def _advance_clock(monkeypatch, delta: timedelta) -> None:
    """Every `timezone.now()` (and axes' own imported `now`s) answers `delta`
    later."""
    import axes.attempts
    import axes.handlers.proxy

    real_now = timezone.now
    later = real_now() + delta

    def frozen():
        return later

    monkeypatch.setattr(timezone, "now", frozen)
    monkeypatch.setattr(axes.attempts, "now", frozen)
    monkeypatch.setattr(axes.handlers.proxy, "now", frozen)


@pytest.mark.parametrize(
    ("later", "status"),
    [
        (timedelta(minutes=14, seconds=50), 429),
        # a trusted-device-less worker goes on to the SMS code step
        (timedelta(minutes=15, seconds=1), 302),
    ],
)
def test_a_locked_out_login_is_allowed_again_after_the_cool_off(
    client, monkeypatch, later, status
):
    """Each attempt during the lockout restarts the 15 minutes (axes'
    AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT, default on): the clock
    counts from the refused right password."""
    assert settings.AXES_COOLOFF_TIME * 60 == 15  # minutes
    make_user(phone=PHONE)
    ip1 = {"REMOTE_ADDR": "10.0.0.1"}
    _fail_five_times(client, lambda i: ip1)
    assert _login(client, RIGHT, **ip1).status_code == 429

    _advance_clock(monkeypatch, later)
    response = _login(client, RIGHT, **ip1)

    assert response.status_code == status
    if status == 302:
        assert response["Location"] == reverse("members:login_verify")


def test_a_forged_x_forwarded_for_does_not_move_the_axes_counter(client):
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0  # PROXY_COUNT=0
    make_user(phone=PHONE)

    _fail_five_times(
        client,
        lambda i: {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": f"1.2.3.{i}"},
    )
    forged = _login(
        client, RIGHT, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="9.9.9.9"
    )

    assert forged.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {
        "10.0.0.1"
    }
    # the forged try was counted on the same row (five failures, then it)
    assert AccessAttempt.objects.get().failures_since_start == 6


def test_behind_one_proxy_axes_counts_the_forwarded_client_not_the_proxy(client):
    """PROXY_COUNT=1: every request comes from the proxy's address; the client
    is the last X-Forwarded-For entry (the proxy appends it). A stranger's five
    failures lock the stranger, not the worker behind the same proxy; the part
    of the header the stranger writes does not count."""
    make_user(phone=PHONE)
    proxy = "10.0.0.9"
    with override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1},
    ):
        _fail_five_times(
            client,
            lambda i: {
                "REMOTE_ADDR": proxy,
                "HTTP_X_FORWARDED_FOR": f"9.9.9.{i}, 203.0.113.5",
            },
        )
        stranger = _login(
            client,
            RIGHT,
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR="8.8.8.8, 203.0.113.5",
        )
        worker = _login(
            client, RIGHT, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="198.51.100.7"
        )

    assert stranger.status_code == 429
    assert worker.status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {
        "203.0.113.5"
    }
