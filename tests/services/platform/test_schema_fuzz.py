"""B1: schemathesis against the published OpenAPI document (security.md AP7).

Every operation is generated from the schema (examples, coverage and fuzzing
phases; positive and negative data) and called with platform alpha's key against
a live server, and every response goes through ALL of schemathesis's checks: no
server error, status code, content type, response headers and body as documented,
invalid data rejected, valid data accepted, required header enforced, auth not
ignored, unsupported methods refused. Platform beta makes the same calls (no
server error for a platform without declared occupations). A stateful run follows
the document's links from what a POST created to the reads of it (the created
resource must be there). Then every read operation is called by platform beta
with platform alpha's real ids: all 404 (no cross-platform access).

Checks that cannot apply anywhere here: `use_after_free` (the API has no DELETE,
so nothing is ever freed) and `object_level_authorization` (needs schemathesis's
multi-identity configuration; `test_beta_cannot_reach_any_of_alphas_objects`
below checks the same thing with real ids). Both stay enabled: they pass
vacuously, and would start to work if the API grew such operations."""

from __future__ import annotations

import io
import uuid

import pytest
import requests
import schemathesis
from django.core.cache import cache
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.throttling import SimpleRateThrottle

from services.actions.batch_rows import CSV_COLUMNS
from tests.factories import login_staff
from tests.services.platform.builders import csv_bytes, rider_row

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(SCHEMA).include(path_regex="^/api/v1/")

# Bounded for a 2-core CI: the fuzzing phase draws at most this many cases per
# operation (the examples and coverage phases add their own fixed sets).
MAX_EXAMPLES = 12
STATEFUL_SCENARIOS = 8
PROGRAM = "e-road"
USED_KEYS: set[str] = set()


@pytest.fixture
def unthrottled(settings):
    rates = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = {
        **rates,
        "platform_bulk": "100000/min",
        "platform_read": "100000/min",
    }
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "stations": "100000/min",
        },
    }
    cache.clear()
    yield
    SimpleRateThrottle.THROTTLE_RATES = rates


def bearer(issued) -> dict[str, str]:
    return {"Authorization": f"Bearer {issued.plaintext}"}


def with_world_facts(case) -> None:
    """Schema-valid data that must be accepted (positive_data_acceptance) still
    meets facts a schema cannot state; a positive case gets them:

    - an Idempotency-Key of its own: a key is single-use by protocol (the same
      key with another body is a 422, docs/api.md §6), and generated keys repeat;
    - a program that exists (programs are data, not an enum of the contract);
    - an offboarding date that is not in the future (relative to today);
    - a CSV file with the documented header (the file's content is not JSON
      Schema's business: the schema says `binary`).

    Negative cases are sent exactly as generated."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    path = case.operation.path
    if case.method.upper() == "POST":
        headers = dict(case.headers or {})
        key = headers.get("Idempotency-Key")
        if not key or key in USED_KEYS:  # the generated key is kept once
            key = uuid.uuid4().hex
        USED_KEYS.add(key)
        case.headers = {**headers, "Idempotency-Key": key}
    if not isinstance(case.body, dict):
        return
    # A copy: the coverage phase shares one body between cases.
    body = case.body = dict(case.body)
    if path in ("/api/v1/enrollments/", "/api/v1/enrollment-batches/"):
        body["program"] = PROGRAM
    if path == "/api/v1/enrollment-batches/":
        # Text, not bytes: schemathesis re-validates an edited case, and takes
        # a binary value for a schema violation (the case would turn negative).
        rows = [rider_row(rider_id=f"F{uuid.uuid4().hex[:8]}")]
        body["file"] = csv_bytes(rows).decode()
    if path == "/api/v1/offboardings/":
        today = timezone.localdate().isoformat()
        body["offboarded_on"] = min(body["offboarded_on"], today)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_conforms_to_the_schema(
    case, live_server, alpha_key, beta_key, program, unthrottled
):
    with_world_facts(case)
    case.call_and_validate(base_url=live_server.url, headers=bearer(alpha_key))
    response = case.call(base_url=live_server.url, headers=bearer(beta_key))
    case.validate_response(response, checks=[schemathesis.checks.not_a_server_error])


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_what_a_post_created_is_readable_through_the_links(
    live_server, alpha_key, program, unthrottled
):
    # ensure_resource_availability: a batch that POST .../enrollment-batches/
    # answered 202 for is found by the GETs its links name (never a 404). The
    # key goes into the schema's configuration: the check only judges requests
    # whose every parameter (Authorization included) came from the links or the
    # configuration. It is also handed to the checks, so ignored_auth knows it
    # is the real key (and probes the API without it) rather than a generated one.
    auth = bearer(alpha_key)
    linked = schemathesis.openapi.from_dict(SCHEMA).include(path_regex="^/api/v1/")
    linked.config.update(base_url=live_server.url, headers=auth)

    class Workflow(linked.as_state_machine()):
        def before_call(self, case):
            with_world_facts(case)

        def validate_response(self, response, case, additional_checks=None, **kw):
            case.validate_response(
                response,
                additional_checks=additional_checks,
                headers=auth,
                transport_kwargs=kw or None,
                recorder=self.recorder,
            )

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=4,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
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
                        CSV_COLUMNS,
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
