import json
import logging

from portal.logging import JsonFormatter, MaskPersonalDataFilter


def _format(msg, *args, **extra):
    record = logging.makeLogRecord(
        {"name": "t", "levelname": "INFO", "msg": msg, "args": args, **extra}
    )
    MaskPersonalDataFilter().filter(record)
    return JsonFormatter().format(record)


def test_injected_newlines_stay_in_one_json_line():
    line = _format("login failed for %s", "a\nFAKE ok")

    assert "\n" not in line
    assert json.loads(line)["msg"] == "login failed for a\nFAKE ok"


def test_personal_data_is_masked_in_messages_and_extras():
    line = _format(
        "joined: %s %s", "440305199003071236", "13812345678", phone="13812345678"
    )

    assert "440305199003071236" not in line
    assert "13812345678" not in line
    payload = json.loads(line)
    assert payload["msg"] == "joined: 4****************6 138****5678"
    assert payload["phone"] == "138****5678"


def test_a_logged_request_shows_method_and_path_never_the_query_string():
    from django.test import RequestFactory

    request = RequestFactory().get(
        "/api/v1/stations/", {"lat": "22.543512", "lng": "113.917801"}
    )

    payload = json.loads(_format("Bad Request: %s", request.path, request=request))

    assert payload["request"] == "GET /api/v1/stations/"
    assert "22.543512" not in json.dumps(payload)


def test_a_400_on_the_stations_api_logs_no_position(client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        client.get("/api/v1/stations/", {"lat": "91", "lng": "113.917801"})

    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert "113.917801" not in JsonFormatter().format(record)
