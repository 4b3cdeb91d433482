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


def _at(monkeypatch, seconds: float) -> None:
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + seconds)


def test_an_active_session_still_ends_8_hours_after_its_login(
    client, worker_user, monkeypatch
):
    # given: a worker who signed in and then used the portal every 20 minutes
    client.force_login(worker_user)
    for minutes in range(0, 8 * 60, 20):
        with monkeypatch.context() as m:
            _at(m, minutes * 60)
            assert client.get("/me/").status_code == 200, minutes

    # when: the next request comes 8 hours and a minute after the login
    with monkeypatch.context() as m:
        _at(m, 8 * 3600 + 60)
        response = client.get("/me/")

    # then: the session is over, however active it was (SE3's absolute limit)
    assert response.status_code == 302
    assert "/login/" in response["Location"]
    assert "_auth_user_id" not in client.session


def test_a_new_login_starts_a_new_8_hours(client, worker_user, monkeypatch):
    # given: a worker signed in, and signed in again 7 hours later
    client.force_login(worker_user)
    client.get("/me/")
    with monkeypatch.context() as m:
        _at(m, 7 * 3600)
        client.force_login(worker_user)
        assert client.get("/me/").status_code == 200

    # when: they go on using it until 9 hours after the first login (2 after
    # the second)
    statuses = []
    for minutes in range(7 * 60 + 20, 9 * 60 + 1, 20):
        with monkeypatch.context() as m:
            _at(m, minutes * 60)
            statuses.append(client.get("/me/").status_code)

    # then: still signed in: the limit counts from the latest login
    assert set(statuses) == {200}


def test_a_session_without_a_login_time_is_counted_from_its_next_request(
    client, worker_user, monkeypatch
):
    # given: a session from before the absolute limit was kept here
    client.force_login(worker_user)
    session = client.session
    del session["_login_at"]
    session.save()

    # when: it is used
    assert client.get("/me/").status_code == 200

    # then: it gets a login time of now, and ends 8 hours later
    assert abs(client.session["_login_at"] - time.time()) < 5
    with monkeypatch.context() as m:
        _at(m, 8 * 3600 + 60)
        assert client.get("/me/").status_code == 302


def test_requests_within_a_minute_save_no_session_row(
    client, worker_user, django_assert_num_queries, monkeypatch
):
    from django.contrib.sessions.models import Session

    client.force_login(worker_user)
    client.get("/me/")
    key = client.session.session_key
    expiry = Session.objects.get(session_key=key).expire_date

    with monkeypatch.context() as m:
        _at(m, 30)
        assert client.get("/me/").status_code == 200

    # the row was not written again (its expiry did not move)
    assert Session.objects.get(session_key=key).expire_date == expiry


@pytest.mark.parametrize("method", ["TRACE", "TRACK", "CONNECT", "PROPFIND"])
@pytest.mark.parametrize("path", ["/", "/login/", "/api/v1/stations/", "/admin/"])
def test_tracing_and_unknown_methods_are_refused_everywhere(client, method, path):
    response = client.generic(method, path)

    assert response.status_code == 405
    assert "TRACE" not in response["Allow"] and "GET" in response["Allow"]


def test_home_answers_get_and_head_only(client):
    assert client.get("/").status_code == 200
    assert client.head("/").status_code == 200
    assert client.post("/").status_code == 405


@pytest.mark.parametrize("path", ["/.git/HEAD", "/.env", "/media/x.csv", "/var/"])
def test_no_repository_secrets_or_private_files_are_served(client, path):
    assert client.get(path).status_code == 404
