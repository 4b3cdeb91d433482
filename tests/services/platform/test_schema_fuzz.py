"""B1: schemathesis against the published OpenAPI document, as two platforms.

Every operation is fuzzed with each platform's key against a live server: no
response may be a server error. Then every read operation is called by platform
beta with platform alpha's real ids: all 404 (no cross-platform access)."""

from __future__ import annotations

import io

import pytest
import requests
import schemathesis
from django.core.cache import cache
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.throttling import SimpleRateThrottle

from tests.factories import login_staff
from tests.services.platform.builders import csv_bytes, rider_row

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(SCHEMA).include(path_regex="^/api/v1/")


@pytest.fixture
def unthrottled():
    rates = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = {
        **rates,
        "platform_bulk": "100000/min",
        "platform_read": "100000/min",
    }
    cache.clear()
    yield
    SimpleRateThrottle.THROTTLE_RATES = rates


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_error_for_either_platform(
    case, live_server, alpha_key, beta_key, program, unthrottled
):
    for issued in (alpha_key, beta_key):
        response = case.call(
            base_url=live_server.url,
            headers={"Authorization": f"Bearer {issued.plaintext}"},
        )
        case.validate_response(
            response, checks=[schemathesis.checks.not_a_server_error]
        )


@pytest.mark.django_db(transaction=True)
def test_schema_and_docs_are_for_platforms_and_staff_only(
    live_server, alpha_key, city_reviewer
):
    base = live_server.url
    assert requests.get(f"{base}/api/schema/", timeout=10).status_code in (401, 403)
    assert requests.get(f"{base}/api/docs/", timeout=10).status_code in (401, 403)
    auth = {"Authorization": f"Bearer {alpha_key.plaintext}"}
    assert requests.get(f"{base}/api/schema/", headers=auth, timeout=10).ok
    assert requests.get(f"{base}/api/redoc/", headers=auth, timeout=10).ok


@pytest.mark.django_db(transaction=True)
def test_beta_cannot_reach_any_of_alphas_objects(
    live_server, alpha_key, beta_key, program, unthrottled
):
    # given: alpha has a batch and a rider
    base = live_server.url
    alpha = {"Authorization": f"Bearer {alpha_key.plaintext}"}
    beta = {"Authorization": f"Bearer {beta_key.plaintext}"}
    created = requests.post(
        f"{base}/api/v1/enrollments/",
        json={
            "program": "e-road",
            "riders": [
                dict(
                    zip(
                        (
                            "name",
                            "id_number",
                            "phone",
                            "occupation",
                            "city_code",
                            "platform_rider_id",
                            "joined_platform_on",
                            "consent_ref",
                            "consented_at",
                        ),
                        rider_row(rider_id="ALPHA-1", phone="13800001111"),
                        strict=True,
                    )
                )
            ],
        },
        headers={**alpha, "Idempotency-Key": "ola-1"},
        timeout=30,
    )
    assert created.status_code == 200, created.text
    batch_id = created.json()["batch_id"]
    upload = requests.post(
        f"{base}/api/v1/enrollment-batches/",
        files={"file": ("r.csv", io.BytesIO(csv_bytes([rider_row(rider_id="A2")])))},
        data={"program": "e-road"},
        headers={**alpha, "Idempotency-Key": "ola-2"},
        timeout=30,
    )
    assert upload.status_code == 202
    ids = {"batch_id": batch_id, "platform_rider_id": "ALPHA-1"}

    # when/then: every GET operation of the schema, with alpha's ids
    checked = 0
    for path, item in SCHEMA["paths"].items():
        if "get" not in item or "{" not in path:
            continue
        url = base + path.format(**ids)
        assert requests.get(url, headers=alpha, timeout=10).status_code == 200, url
        denied = requests.get(url, headers=beta, timeout=10)
        assert denied.status_code == 404, url
        assert "ALPHA" not in denied.text
        checked += 1
    assert checked == 3
    # beta cannot offboard alpha's rider either
    off = requests.post(
        f"{base}/api/v1/offboardings/",
        json={"offboarded_on": "2026-01-01", "platform_rider_ids": ["ALPHA-1"]},
        headers={**beta, "Idempotency-Key": "ola-3"},
        timeout=10,
    )
    assert off.json()["results"][0]["outcome"] == "not_found"


@pytest.mark.django_db
def test_swagger_page_has_no_inline_script(client, city_reviewer):
    import re

    login_staff(client, city_reviewer)
    html = client.get("/api/docs/").content.decode()
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all("src=" in attrs for attrs in scripts)
