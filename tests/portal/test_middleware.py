import time

import pytest

from tests.factories import login_staff

pytestmark = pytest.mark.django_db


def test_idle_worker_session_ends_after_30_minutes(client, worker_user, monkeypatch):
    # given a signed-in worker whose last request was 31 minutes ago
    client.force_login(worker_user)
    assert client.get("/me/").status_code == 200
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 31 * 60)

    # when
    response = client.get("/me/")

    # then the session is over and the login page asks again
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_active_worker_session_survives(client, worker_user, monkeypatch):
    client.force_login(worker_user)
    client.get("/me/")
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 29 * 60)

    assert client.get("/me/").status_code == 200


def test_staff_idle_limit_is_15_minutes(client, reviewer_nanshan, monkeypatch):
    login_staff(client, reviewer_nanshan)
    client.get("/admin/")
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 16 * 60)

    response = client.get("/admin/")

    assert response.status_code == 302
    assert "login" in response["Location"]


def test_api_over_plain_http_is_refused_not_redirected(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    api = client.get("/api/schema/")
    page = client.get("/")

    assert api.status_code == 403
    assert not api.has_header("Location")
    assert page.status_code == 301
    assert page["Location"].startswith("https://")


def test_request_id_is_echoed(client):
    response = client.get("/", HTTP_X_REQUEST_ID="abcdef12-3456")

    assert response["X-Request-ID"] == "abcdef12-3456"
    assert client.get("/", HTTP_X_REQUEST_ID="bad id\n")["X-Request-ID"] != "bad id\n"
