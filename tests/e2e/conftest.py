"""Browser journeys: Playwright drives Debian's Chromium (never a downloaded one)
on a 390x844 zh-CN phone context. Every host but the live server is blocked."""

from __future__ import annotations

import os
import time
from urllib.parse import urlparse

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {
        **browser_context_args,
        "locale": "zh-CN",
        "timezone_id": "Asia/Shanghai",
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
    }


@pytest.fixture
def phone_page(page, live_server):
    """A page that may only talk to the live server."""
    allowed = urlparse(live_server.url).netloc

    def guard(route):
        if urlparse(route.request.url).netloc == allowed:
            return route.continue_()
        return route.abort()

    page.context.route("**/*", guard)
    page.set_default_timeout(10_000)
    return page


@pytest.fixture
def login_as(phone_page, live_server):
    """Log a user in by injecting a session cookie (not the login journey).

    Staff sessions stop after the password unless `totp_verified=True`, which
    also puts a passed TOTP step into the session (security.md AU4; the device is
    created if missing). tests/e2e/test_staff_otp.py walks the real steps.

    A worker session is past the login's SMS step (AU4) but has no recent code,
    so the data export and data requests first ask for one, unless
    `stepped_up=True`. tests/e2e/test_worker_login.py walks the real steps."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django_otp import DEVICE_ID_SESSION_KEY

    from members.models import StaffTotpDevice
    from members.worker_mfa import STEP_UP_KEY
    from tests.factories import make_totp_device

    def _login(user, *, totp_verified: bool = False, stepped_up: bool = False):
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        if totp_verified:
            device = StaffTotpDevice.objects.filter(
                user=user, confirmed=True
            ).first() or make_totp_device(user)
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        if stepped_up:
            session[STEP_UP_KEY] = int(time.time())
        session.save()
        host = urlparse(live_server.url).hostname
        phone_page.context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": session.session_key,
                    "domain": host,
                    "path": "/",
                }
            ]
        )
        return phone_page

    return _login
