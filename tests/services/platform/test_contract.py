"""What the OpenAPI document promises about error bodies and input, checked
directly (the schemathesis run in test_schema_fuzz.py is slow and random)."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from members.models import PlatformRider
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def test_api_path_that_matches_no_route_is_a_json_404(alpha):
    response = alpha.get("/api/v1/enrollment-batches/not-a-number/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "未找到。"}


def test_page_that_matches_no_route_stays_html(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_rider_ids_are_taken_as_sent_not_trimmed(alpha):
    # given: rider R1 of alpha
    PlatformRider.objects.create(
        platform=alpha.platform, member=make_member(), platform_rider_id="R1"
    )

    # when: " R1" (the schema's maxLength counts the spaces too)
    response = alpha.post(
        "/api/v1/offboardings/",
        {"offboarded_on": "2026-01-01", "platform_rider_ids": [" R1"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-trim",
    )

    # then: another id, so not found; R1 is untouched
    assert response.status_code == 200
    assert response.json()["results"][0]["outcome"] == "not_found"
    assert PlatformRider.objects.get(platform_rider_id="R1").offboarded_on is None


def test_nul_in_a_string_is_refused_as_the_schema_says(alpha):
    response = alpha.post(
        "/api/v1/offboardings/",
        {"offboarded_on": "2026-01-01", "platform_rider_ids": ["R\x001"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-nul",
    )

    assert response.status_code == 400
    schema = SchemaGenerator().get_schema(request=None, public=True)
    ids = schema["components"]["schemas"]["OffboardingsInputRequest"]["properties"][
        "platform_rider_ids"
    ]
    assert ids["uniqueItems"] is True
    assert ids["items"]["pattern"] == "^[^\\x00]*$"


def test_every_platform_error_response_has_a_described_body():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = [
        op
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/") and "stations" not in path
        for op in item.values()
    ]
    assert len(operations) == 6
    for op in operations:
        for status in ("401", "403", "429", "503"):
            body = op["responses"][status]["content"]["application/json"]["schema"]
            assert body["$ref"].startswith("#/components/schemas/"), (op, status)
        assert op["responses"]["429"]["headers"]["Retry-After"]["required"] is True
        assert op["responses"]["503"]["headers"]["Retry-After"]["required"] is True


def test_an_unexpected_error_under_api_is_json_with_the_request_id(alpha, monkeypatch):
    from services.apis import riders as api

    def broken(**kwargs):
        raise RuntimeError("boom: 440305199003071236")

    monkeypatch.setattr(api, "rider_get_for_platform", broken)
    alpha.raise_request_exception = False

    response = alpha.get("/api/v1/riders/R1/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"detail", "request_id"}
    assert body["request_id"] == response["X-Request-ID"]
    assert "boom" not in response.content.decode()
