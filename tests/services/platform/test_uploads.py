"""Malformed, hostile and oversized uploads get clear 4xx answers; the JSON
endpoint refuses bad input without a 500 (security.md AP4, B5)."""

from __future__ import annotations

import io
import json
import sys

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from members.models import Member
from services.actions.batch_rows import CSV_COLUMNS
from services.models import EnrollmentBatch, IdempotencyRecord
from tests.services.platform.builders import csv_bytes, rider_row

pytestmark = pytest.mark.django_db

URL = "/api/v1/enrollment-batches/"


def upload(client, body: bytes, *, key: str = "k1", program: str = "e-road"):
    return client.post(
        URL,
        {"file": io.BytesIO(body), "program": program},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def staged_files(settings) -> list:
    folder = settings.PRIVATE_STORAGE_ROOT / "batches"
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "文件为空。"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "二进制"),
        (
            b"name,id,phone\n\xe5\xbc\xa0\xe4\xb8\x89,1,2\n",
            "表头必须为",
        ),
        (
            csv_bytes([rider_row()]).replace(b"name,", b"Name,", 1),
            "表头必须为",
        ),
        (csv_bytes([]), "没有数据行"),
        (b"\xff\xfe\xfa\xfb" * 100, "编码"),
    ],
    ids=["empty", "binary", "wrong-header", "header-case", "header-only", "encoding"],
)
def test_malformed_files_get_400_and_leave_nothing(
    alpha, program, settings, body, message
):
    before = staged_files(settings)
    response = upload(alpha, body)
    assert response.status_code == 400, response.content
    assert message in json.dumps(response.json(), ensure_ascii=False)
    assert not EnrollmentBatch.objects.exists()
    assert staged_files(settings) == before
    # the key is released: the platform can fix the file and retry with it
    assert not IdempotencyRecord.objects.exists()


def test_missing_file_program_or_key_get_400(alpha, program):
    body = csv_bytes([rider_row()])
    no_key = alpha.post(
        URL, {"file": io.BytesIO(body), "program": "e-road"}, format="multipart"
    )
    assert no_key.status_code == 400
    assert no_key.json()["code"] == "idempotency_key_missing"
    no_file = alpha.post(
        URL, {"program": "e-road"}, format="multipart", HTTP_IDEMPOTENCY_KEY="a"
    )
    assert no_file.status_code == 400
    unknown = upload(alpha, body, program="nope")
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "unknown_program"
    assert not EnrollmentBatch.objects.exists()


def test_json_body_on_upload_endpoint_is_415(alpha, program):
    response = alpha.post(
        URL, {"program": "e-road"}, format="json", HTTP_IDEMPOTENCY_KEY="a"
    )
    assert response.status_code == 415


def test_file_over_limit_while_streaming_is_413(alpha, program, settings):
    # given a small limit, so the streaming counter (not Content-Length) trips
    settings.PLATFORM_BATCH_MAX_BYTES = 100_000
    before = staged_files(settings)
    rows = [rider_row(phone=f"1380000{i:04d}", rider_id=f"R{i}") for i in range(1500)]
    body = csv_bytes(rows)
    assert 100_000 < len(body) < 100_000 + 64 * 1024
    response = upload(alpha, body)
    assert response.status_code == 413
    assert not EnrollmentBatch.objects.exists()
    assert staged_files(settings) == before


class LazyMultipart(io.RawIOBase):
    """A multipart body of `size` bytes generated on the fly, never stored."""

    def __init__(self, boundary: str, size: int) -> None:
        self.head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="program"\r\n\r\n'
            f"e-road\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode() + csv_bytes([])
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.filler = size - len(self.head) - len(self.tail)
        self.pos = 0
        self.size = size
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.pos >= self.size:
            return 0
        n = min(len(buffer), self.size - self.pos)
        out = bytearray()
        while len(out) < n:
            p = self.pos + len(out)
            if p < len(self.head):
                out += self.head[p : p + n - len(out)]
            elif p < len(self.head) + self.filler:
                take = min(n - len(out), len(self.head) + self.filler - p)
                out += b"x" * take
            else:
                q = p - len(self.head) - self.filler
                out += self.tail[q : q + n - len(out)]
        buffer[:n] = out
        self.pos += n
        self.served += n
        return n


def test_201_mb_upload_is_413_without_reading_it(alpha_key, program, settings):
    # given a real WSGI request with a lazily generated 201 MB body
    boundary = "bench0boundary"
    before = staged_files(settings)
    size = 201 * 1024 * 1024
    body = LazyMultipart(boundary, size)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": URL,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",  # a WSGI server always sets it (AP2 allow-list)
        "HTTP_HOST": "testserver",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BufferedReader(body),
        "wsgi.errors": sys.stderr,
        "CONTENT_TYPE": f"multipart/form-data; boundary={boundary}",
        "CONTENT_LENGTH": str(size),
        "HTTP_AUTHORIZATION": f"Bearer {alpha_key.plaintext}",
        "HTTP_IDEMPOTENCY_KEY": "big-1",
    }
    statuses = []

    # when (without closing the test's DB connection at request end, as
    # Django's own test client does)
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        result = WSGIHandler()(environ, lambda status, headers: statuses.append(status))
        content = b"".join(result)
        result.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)

    # then
    assert statuses[0].startswith("413")
    assert "200MB" in json.loads(content)["detail"]
    assert body.served < 1024 * 1024  # refused on Content-Length, not read
    assert not EnrollmentBatch.objects.exists()
    assert staged_files(settings) == before


ENROLL = "/api/v1/enrollments/"


def rider_json(**overrides) -> dict:
    keys = CSV_COLUMNS
    data = dict(zip(keys, rider_row(), strict=True))
    data.update(overrides)
    return data


def post_json(client, body, *, key="j1", content_type="application/json"):
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.generic(
        "POST",
        ENROLL,
        raw,
        content_type=content_type,
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_json_enrollment_answers_one_outcome_per_row(alpha, program):
    riders = [
        rider_json(platform_rider_id="J1", phone="13800000001"),
        rider_json(platform_rider_id="J2", phone="13800000002", consent_ref=""),
        rider_json(platform_rider_id="J3", phone="13800000003", id_number="123"),
    ]
    response = post_json(alpha, {"program": "e-road", "riders": riders})
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["created"], data["already_enrolled"], data["rejected"]) == (1, 0, 2)
    assert [(r["row"], r["outcome"], r["code"]) for r in data["results"]] == [
        (1, "created", ""),
        (2, "rejected", "consent_missing"),
        (3, "rejected", "invalid_id"),
    ]
    # replay: same key, same body -> byte-identical body and the replay header
    again = post_json(alpha, {"program": "e-road", "riders": riders})
    assert again.status_code == 200
    assert again.content == response.content
    assert again["Idempotent-Replayed"] == "true"
    assert Member.objects.count() == 1
    # same key, different body -> 422, nothing written
    other = post_json(alpha, {"program": "e-road", "riders": riders[:1]})
    assert other.status_code == 422
    assert EnrollmentBatch.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"program": "e-road", "riders": [rider_json()] * 1001}, 400),
        ({"program": "e-road", "riders": []}, 400),
        ({"program": "e-road", "riders": [rider_json(phone=13800000001)]}, 400),
        ({"program": "e-road", "riders": [rider_json(religion="x")]}, 400),
        ({"program": "e-road", "riders": [rider_json()], "extra": 1}, 400),
        ({"program": ["e-road"], "riders": [rider_json()]}, 400),
        ({"program": "e-road", "riders": "all"}, 400),
        ({"program": "e-road", "riders": [[1, 2]]}, 400),
        ([1, 2, 3], 400),
        ("[" * 100_000 + "]" * 100_000, 400),
        ('{"program": "e-road", "program": "x", "riders": []}', 400),
        ("{not json", 400),
        (b"\xff\xfe{}", 400),
        ("[" + "0," * 1_400_000 + "0]", 413),
    ],
    ids=[
        "1001-rows",
        "no-rows",
        "number-for-text",
        "unknown-rider-field",
        "unknown-top-field",
        "list-for-text",
        "string-for-list",
        "list-for-object",
        "top-level-list",
        "deep-nesting",
        "duplicate-keys",
        "broken-json",
        "bad-utf8",
        "over-2.5MB",
    ],
)
def test_json_bad_input_is_4xx_and_writes_nothing(alpha, program, body, status):
    response = post_json(alpha, body)
    assert response.status_code == status, response.content[:300]
    assert not Member.objects.exists()
    assert not EnrollmentBatch.objects.exists()


def test_json_wrong_content_type_is_415(alpha, program):
    response = post_json(alpha, "program=e-road", content_type="text/plain")
    assert response.status_code == 415


def test_database_outage_is_503_not_a_traceback(alpha, program, monkeypatch):
    from django.db import OperationalError

    import services.apis.riders as riders_api

    def down(**kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(riders_api, "enrollments_submit", down)
    response = post_json(alpha, {"program": "e-road", "riders": [rider_json()]})
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "Traceback" not in response.content.decode()
    # the key was released: a retry after the outage executes normally
    monkeypatch.undo()
    retry = post_json(alpha, {"program": "e-road", "riders": [rider_json()]})
    assert retry.status_code == 200
    assert retry.json()["created"] == 1


def test_second_file_part_is_ignored(
    alpha, program, django_capture_on_commit_callbacks
):
    first = csv_bytes([rider_row(rider_id="F1", phone="13800007777")])
    second = b"\x00garbage" * 1000
    with django_capture_on_commit_callbacks(execute=True):
        response = alpha.post(
            URL,
            {
                "file": [io.BytesIO(first), io.BytesIO(second)],
                "other": io.BytesIO(b"x" * 5000),
                "program": "e-road",
            },
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="two-files",
        )
    assert response.status_code == 202, response.content
    batch = EnrollmentBatch.objects.get()
    assert (batch.total_rows, batch.created) == (1, 1)


def test_a_known_rider_enrolled_again_is_back_with_the_new_consent(alpha, program):
    """Re-enrolling an offboarded rider refreshes their rider record (only people
    known before the chunk are looked up for this; a new person is not)."""
    from members.models import PlatformRider

    rider = rider_json(platform_rider_id="J9", phone="13800000009")
    first = post_json(alpha, {"program": "e-road", "riders": [rider]}, key="r1")
    assert first.json()["created"] == 1
    off = alpha.post(
        "/api/v1/offboardings/",
        {"offboarded_on": "2026-01-01", "platform_rider_ids": ["J9"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="r2",
    )
    assert off.status_code == 200
    assert PlatformRider.objects.get(platform_rider_id="J9").offboarded_on is not None
    again = post_json(
        alpha,
        {"program": "e-road", "riders": [{**rider, "consent_ref": "CONSENT-2"}]},
        key="r3",
    )
    assert again.json()["already_enrolled"] == 1
    record = PlatformRider.objects.get(platform_rider_id="J9")
    assert (record.offboarded_on, record.consent_ref) == (None, "CONSENT-2")


def test_a_concurrent_unique_write_is_run_again_not_a_500(alpha, program, monkeypatch):
    # given: the first run meets a phone another request committed meanwhile
    from django.db import IntegrityError

    from services.apis import riders as api

    real = api.enrollments_submit
    calls = []

    def racing(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError("duplicate key value violates unique constraint")
        return real(**kwargs)

    monkeypatch.setattr(api, "enrollments_submit", racing)

    response = post_json(alpha, {"program": "e-road", "riders": [rider_json()]})

    # then: the second run answers normally, once
    assert response.status_code == 200, response.content
    assert len(calls) == 2
    assert response.json()["created"] == 1
    assert EnrollmentBatch.objects.count() == 1


def test_a_race_lost_twice_is_a_409_and_the_key_can_be_used_again(
    alpha, program, monkeypatch
):
    from django.db import IntegrityError

    from services.apis import riders as api

    real = api.enrollments_submit

    def always_racing(**kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(api, "enrollments_submit", always_racing)
    body = {"program": "e-road", "riders": [rider_json()]}

    response = post_json(alpha, body)

    assert response.status_code == 409
    assert response.json()["code"] == "concurrent_write"
    assert EnrollmentBatch.objects.count() == 0
    monkeypatch.setattr(api, "enrollments_submit", real)
    assert post_json(alpha, body).status_code == 200  # same key, released
