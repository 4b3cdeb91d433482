"""Response headers and cookies on the real middleware stack.

* security.md DJ8: pages and API answers with personal data say `no-store`;
  only the public stations API is cacheable.
* SE1 / B9: under production cookie settings the session and CSRF cookies are
  `__Host-` cookies: Secure, Path=/, no Domain, SameSite=Lax, the session one
  HttpOnly.
* DJ7: HSTS, nosniff, Referrer-Policy, COOP, X-Frame-Options and CSP on every
  kind of response (worker page, admin, 404, 500, API)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.urls import path
from django.utils import timezone

import portal.urls
from members.models import PlatformRider
from tests.factories import login_staff, make_member, make_staff, step_up
from tests.services.platform.conftest import issue_local_key
from tests.services.stations_factories import make_station

ROOT = Path(__file__).resolve().parent.parent.parent
pytestmark = pytest.mark.django_db

STATIONS_API = "/api/v1/stations/?lat=22.5333&lng=113.9305"


# --- DJ8: no-store ----------------------------------------------------------------


@pytest.fixture
def rider(nanshan_gig_pool):
    platform_key = issue_local_key("alpha")
    member = make_member(org=nanshan_gig_pool, name="司马光", phone="13911110002")
    PlatformRider.objects.create(
        platform=platform_key.key.platform,
        member=member,
        platform_rider_id="A-77",
        joined_platform_on=timezone.localdate() - timedelta(days=730),
    )
    return platform_key


def test_signed_in_worker_pages_and_the_export_are_no_store(client, worker):
    client.force_login(worker.user)
    step_up(client)

    for url in ("/me/", "/me/card/", "/me/export/", "/me/requests/", "/messages/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Cache-Control"] == "no-store", url
    download = client.post("/me/export/")
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    assert download["Cache-Control"] == "no-store"


def test_admin_pages_are_no_store(client, nanshan, worker):
    staff = make_staff(org=nanshan, perms=("members.view_member",), username="st_ns")
    login_staff(client, staff)

    for url in (
        "/admin/",
        "/admin/members/member/",
        f"/admin/members/member/{worker.pk}/change/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        # the admin's own never_cache adds more directives; no-store is among them
        assert "no-store" in response["Cache-Control"].split(", "), url
        assert "public" not in response["Cache-Control"], url


def test_a_platforms_rider_answer_is_no_store(client, rider):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {rider.plaintext}"}

    found = client.get("/api/v1/riders/A-77/", secure=True, **auth)
    missing = client.get("/api/v1/riders/nobody/", secure=True, **auth)

    assert found.status_code == 200
    assert found.json()["platform_rider_id"] == "A-77"
    assert found["Cache-Control"] == "no-store"
    assert missing.status_code == 404
    assert missing["Cache-Control"] == "no-store"
    refused = client.get("/api/v1/riders/A-77/", secure=True)
    assert refused.status_code in (401, 403)
    assert refused["Cache-Control"] == "no-store"


def test_only_the_public_stations_api_is_cacheable(client, nanshan):
    make_station(org=nanshan)

    stations = client.get(STATIONS_API, secure=True)
    home = client.get("/", secure=True)

    assert stations.status_code == 200 and stations.json()
    assert stations["Cache-Control"] == "public, max-age=60"
    assert "Cookie" not in stations.get("Vary", "")
    assert not stations.cookies  # nothing per-user in a shared cache
    assert "public" not in home.get("Cache-Control", "")


# --- SE1 / B9: cookies under production settings ----------------------------------

COOKIE_SETTINGS = (
    "SECURE_COOKIES",
    "SESSION_COOKIE_NAME",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "SESSION_COOKIE_DOMAIN",
    "SESSION_COOKIE_PATH",
    "CSRF_COOKIE_NAME",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_SAMESITE",
    "CSRF_COOKIE_DOMAIN",
    "CSRF_COOKIE_PATH",
)


def _production_cookie_settings() -> dict:
    """The cookie settings portal.settings derives for production (its own
    environment: no DEBUG, SECURE_COOKIES left to its default)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "SECURE_COOKIES", "DEBUG")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_SKIP_DOTENV="1",
        SECRET_KEY="p" * 30 + "Q8x#k2@Lm9$zR4!vT7&wY1^bN6*cJ3",
        ALLOWED_HOSTS="portal.example.cn",
        FIELD_ENCRYPTION_KEYS="k1:" + "A" * 43,
        BLIND_INDEX_KEY="b" * 40,
    )
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {COOKIE_SETTINGS!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_derive_host_prefixed_secure_cookies():
    values = _production_cookie_settings()

    assert values == {
        "SECURE_COOKIES": True,
        "SESSION_COOKIE_NAME": "__Host-sessionid",
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_DOMAIN": None,
        "SESSION_COOKIE_PATH": "/",
        "CSRF_COOKIE_NAME": "__Host-csrftoken",
        "CSRF_COOKIE_SECURE": True,
        "CSRF_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_DOMAIN": None,
        "CSRF_COOKIE_PATH": "/",
    }


@pytest.fixture
def production_cookies(settings):
    for name, value in _production_cookie_settings().items():
        setattr(settings, name, value)
    return settings


def _assert_host_cookie(morsel, *, httponly: bool) -> None:
    header = morsel.OutputString()
    assert morsel["secure"], header
    assert morsel["path"] == "/", header
    assert not morsel["domain"] and "domain=" not in header.lower(), header
    assert morsel["samesite"] == "Lax", header
    assert bool(morsel["httponly"]) is httponly, header


def test_login_sets_host_prefixed_secure_session_and_csrf_cookies(
    production_cookies, nanshan
):
    staff = make_staff(org=nanshan, username="cookie_staff")
    browser = Client()

    page = browser.get("/login/", secure=True)
    login = browser.post(
        "/login/",
        {"username": "cookie_staff", "password": "correct horse battery staple"},
        secure=True,
    )

    assert page.status_code == 200
    assert set(page.cookies) == {"__Host-csrftoken"}
    _assert_host_cookie(page.cookies["__Host-csrftoken"], httponly=False)
    assert login.status_code == 302  # to the TOTP step: the password was right
    assert "__Host-sessionid" in login.cookies
    assert "sessionid" not in login.cookies and "csrftoken" not in login.cookies
    _assert_host_cookie(login.cookies["__Host-sessionid"], httponly=True)
    if "__Host-csrftoken" in login.cookies:  # rotated at login
        _assert_host_cookie(login.cookies["__Host-csrftoken"], httponly=False)
    # the new session is the signed-in one
    session = browser.session
    assert session["_auth_user_id"] == str(staff.pk)


# --- DJ7: security headers everywhere ---------------------------------------------


def _boom(request):
    raise RuntimeError("test hook: an unexpected error")


# This module is the URLconf of the header test: portal.urls plus a view that
# raises, to get the 500 page through the real stack.
urlpatterns = [path("boom-500/", _boom), *portal.urls.urlpatterns]
handler404 = portal.urls.handler404
handler500 = portal.urls.handler500


@pytest.fixture
def with_500_hook(settings):
    settings.ROOT_URLCONF = __name__
    return settings


HTML_PAGES = [
    ("/", 200),
    ("/services/stations/", 200),
    ("/login/", 200),
    ("/admin/login/", 200),
    ("/nope-7f3a/", 404),
    ("/boom-500/", 500),
]


def _assert_common_headers(response, where: str) -> None:
    assert response["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    ), where
    assert response["X-Content-Type-Options"] == "nosniff", where
    assert response["Referrer-Policy"] == "same-origin", where
    assert response["Cross-Origin-Opener-Policy"] == "same-origin", where
    assert response["X-Frame-Options"] == "DENY", where
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"], where


def test_every_kind_of_response_carries_the_security_headers(
    with_500_hook, nanshan, worker
):
    settings = with_500_hook
    settings.SECURE_HSTS_SECONDS = 31536000
    make_station(org=nanshan)
    browser = Client(raise_request_exception=False)
    signed_in = Client(raise_request_exception=False)
    signed_in.force_login(worker.user)

    responses = {
        url: (browser.get(url, secure=True), status) for url, status in HTML_PAGES
    }
    responses["/me/ (signed in)"] = (signed_in.get("/me/", secure=True), 200)
    responses["/join/ (signed in)"] = (signed_in.get("/join/", secure=True), 302)

    for where, (response, status) in responses.items():
        assert response.status_code == status, where
        _assert_common_headers(response, where)
        csp = response["Content-Security-Policy"]
        for directive in ("object-src 'none'", "base-uri 'none'", "script-src 'self'"):
            assert directive in csp, where
        # django-csp adds the nonce only to pages that use it: never a blanket allow
        assert "unsafe-eval" not in csp and "unsafe-inline" not in csp, where
    assert "Traceback" not in responses["/boom-500/"][0].content.decode()

    api = {
        "stations API": browser.get(STATIONS_API, secure=True),
        "API without credentials": browser.get("/api/v1/riders/x/", secure=True),
        "API 404": browser.get("/api/v1/nope/", secure=True),
    }
    assert api["stations API"].status_code == 200
    assert api["API without credentials"].status_code in (401, 403)
    assert api["API 404"].status_code == 404
    for where, response in api.items():
        _assert_common_headers(response, where)
