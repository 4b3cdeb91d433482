"""Error reports never carry a worker's phone, code or password from a POST:
each view that takes them marks them with sensitive_post_parameters (Django's
error reporter then shows them as stars)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from tests.factories import make_user, step_up

pytestmark = pytest.mark.django_db

POST = {"phone": "13987654321", "code": "123456", "action": "send_code"}


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def marked(response) -> set[str]:
    return set(response.wsgi_request.sensitive_post_parameters)


def test_register_marks_phone_code_and_passwords(client):
    response = client.post("/register/", POST)

    assert {"phone", "code", "password1", "password2"} <= marked(response)


def test_forgot_password_marks_phone_code_and_passwords(client):
    response = client.post("/password/forgot/", POST)

    assert {"phone", "code", "password1", "password2"} <= marked(response)


def test_phone_change_marks_the_new_phone_and_code():
    client = Client()
    client.force_login(make_user(phone="13812345678"))
    step_up(client)

    response = client.post("/me/phone/", POST)

    assert {"phone", "code"} <= marked(response)


def test_join_marks_name_id_number_and_hukou():
    client = Client()
    client.force_login(make_user(phone="13812345678"))

    response = client.post(
        "/join/", {"name": "张三", "id_number": "440305199003071236"}
    )

    assert {"name", "id_number", "hukou_county"} <= marked(response)


def test_data_request_marks_the_note():
    client = Client()
    client.force_login(make_user(phone="13812345678"))
    step_up(client)

    response = client.post("/me/requests/", {"kind": "export", "note": "x"})

    assert "note" in marked(response)


def test_station_problem_report_marks_text_and_contact(client):
    from tests.services.stations_factories import make_station

    station = make_station()

    response = client.post(
        station.get_absolute_url(),
        {"kind": "other", "text": "x", "contact": "13812345678"},
    )

    assert {"text", "contact"} <= marked(response)
