"""security.md B6 (and DJ3, SE5) on the real middleware stack: a request for
another Host is refused with 400 (never a 500), and a cross-site POST carrying
`Origin: https://evil.example` is refused by CSRF (403) even with a valid
token, before the view runs. The missing-token and `next=` cases:
tests/portal/test_security_settings.py::test_post_without_csrf_token_is_refused,
tests/members/test_worker_mfa.py::test_login_next_to_another_site_is_dropped."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from members.models import AuditLog, DataRequest
from tests.factories import make_staff, step_up

pytestmark = pytest.mark.django_db

EVIL_HOST = "evil.example"
EVIL_ORIGIN = "https://evil.example"
OWN_ORIGIN = "http://testserver"  # the test client's scheme and host
PASSWORD = "correct horse battery staple"  # tests.factories.make_user


# --- Host ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/"),
        ("get", "/login/"),
        ("post", "/login/"),
        ("get", "/admin/login/"),
        ("post", "/admin/login/"),
        ("get", "/me/"),
        ("get", "/healthz"),
        ("get", "/api/v1/schema/"),
    ],
)
def test_another_host_is_a_400(method, path):
    client = Client(raise_request_exception=True)

    response = getattr(client, method)(path, HTTP_HOST=EVIL_HOST)

    assert response.status_code == 400
    assert EVIL_HOST not in response.content.decode()


def test_another_host_cannot_log_in(worker_user):
    client = Client()

    response = client.post(
        "/login/",
        {"username": "13812345678", "password": PASSWORD},
        HTTP_HOST=EVIL_HOST,
    )

    assert response.status_code == 400
    assert SESSION_KEY not in client.session
    assert not AuditLog.objects.filter(action__startswith="login").exists()


def test_allowed_host_is_served():
    assert Client().get("/", HTTP_HOST="localhost").status_code == 200


# --- Origin --------------------------------------------------------------------------


def _strict(path: str) -> tuple[Client, str]:
    """A browser-like client that enforces CSRF, with the token of `path`'s form."""
    client = Client(enforce_csrf_checks=True)
    assert client.get(path).status_code == 200
    return client, client.cookies["csrftoken"].value


def test_cross_site_login_post_is_a_csrf_403(worker_user):
    client, token = _strict("/login/")
    data = {"username": "13812345678", "password": PASSWORD}

    response = client.post(
        "/login/", {**data, "csrfmiddlewaretoken": token}, HTTP_ORIGIN=EVIL_ORIGIN
    )

    assert response.status_code == 403
    assert "templates/403_csrf.html" in " ".join(
        t.origin.name for t in response.templates
    )
    assert SESSION_KEY not in client.session
    # refused before authenticate(): no login attempt at all
    assert not AuditLog.objects.filter(action__startswith="login").exists()

    # the same token from the portal's own origin passes CSRF
    same = client.post(
        "/login/", {**data, "csrfmiddlewaretoken": token}, HTTP_ORIGIN=OWN_ORIGIN
    )
    assert same.status_code == 302


def test_cross_site_admin_login_post_is_a_csrf_403(db):
    make_staff(org=None, username="clerk_sun")
    client, token = _strict("/admin/login/")

    response = client.post(
        "/admin/login/",
        {"username": "clerk_sun", "password": PASSWORD, "csrfmiddlewaretoken": token},
        HTTP_ORIGIN=EVIL_ORIGIN,
    )

    assert response.status_code == 403
    assert SESSION_KEY not in client.session


def test_cross_site_post_to_a_signed_in_worker_form_is_a_csrf_403(worker):
    client = Client(enforce_csrf_checks=True)
    client.force_login(worker.user)
    step_up(client)
    assert client.get("/me/requests/").status_code == 200
    token = client.cookies["csrftoken"].value
    data = {"kind": "explanation", "note": "", "csrfmiddlewaretoken": token}

    response = client.post("/me/requests/", data, HTTP_ORIGIN=EVIL_ORIGIN)

    assert response.status_code == 403
    assert not DataRequest.objects.exists()
    (denied,) = AuditLog.objects.filter(action="authz_denied")
    assert denied.actor == worker.user
    assert denied.detail == {"path": "/me/requests/", "method": "POST"}

    same = client.post("/me/requests/", data, HTTP_ORIGIN=OWN_ORIGIN)
    assert same.status_code == 302
    assert DataRequest.objects.count() == 1
