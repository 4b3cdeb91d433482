"""Batch enrollment through the API: the messy GBK file, isolation, counts."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.utils import timezone

from members.models import Member, MemberStatus, Notification, PlatformRider
from services.actions.batches import coverage_period
from services.models import (
    BatchRowError,
    BatchStagingRow,
    Enrollment,
    EnrollmentBatch,
    EnrollmentSource,
)
from tests.factories import make_id_number, make_member
from tests.services.platform.builders import bad_check, csv_bytes, id_with_x, rider_row

pytestmark = pytest.mark.django_db

URL = "/api/v1/enrollment-batches/"


def upload(client, body: bytes, *, key: str = "k1", program: str = "e-road"):
    return client.post(
        URL,
        {"file": io.BytesIO(body), "program": program},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def messy_gbk_rows(existing_id: str) -> list[list[str]]:
    first = make_id_number(born=date(1991, 5, 6))
    return [
        # 1 created: plain row
        rider_row(name="张三", id_number=first, phone="13800138001", rider_id="R1"),
        # 2 created: lowercase x, +86 and spaces in the phone, Chinese occupation
        rider_row(
            name="李四",
            id_number=id_with_x(born=date(1988, 1, 2)).lower(),
            phone="+86 139 0013 9002",
            occupation="快递员",
            rider_id="R2",
        ),
        # 3 invalid_id: bad check character
        rider_row(
            name="王五",
            id_number=bad_check(make_id_number(born=date(1992, 2, 2))),
            phone="13800138003",
            rider_id="R3",
        ),
        # 4 consent_missing
        rider_row(
            name="赵六",
            phone="+8613700137004",
            occupation="网约车司机",
            rider_id="R4",
            consent_ref="",
        ),
        # 5 duplicate_in_file: same person as row 1
        rider_row(name="张三", id_number=first, phone="13800138005", rider_id="R5"),
        # 6 created: 货车司机, Futian
        rider_row(
            name="钱七",
            phone="13600136006",
            occupation="货车司机",
            city_code="440304",
            rider_id="R6",
            born=date(1985, 7, 7),
        ),
        # 7 invalid_phone
        rider_row(name="孙八", phone="12345", rider_id="R7"),
        # 8 unknown_occupation
        rider_row(name="周九", phone="13800138008", occupation="宇航员", rider_id="R8"),
        # 9 duplicate_in_file: rider id of row 1
        rider_row(name="吴十", phone="13800138009", rider_id="R1"),
        # 10 no_union_org: Beijing has no gig pool here
        rider_row(name="郑一", phone="13800138010", city_code="110105", rider_id="R10"),
        # 11 already_enrolled: alpha's rider, already covered this year
        rider_row(
            name="冯二", id_number=existing_id, phone="13800138011", rider_id="R11"
        ),
        # 12 not_eligible: 15 years old
        rider_row(
            name="陈三",
            phone="13800138012",
            rider_id="R12",
            born=date(timezone.localdate().year - 15, 1, 1),
        ),
    ]


def test_messy_gbk_file_gives_exact_counts_and_errors(
    alpha,
    program,
    nanshan_gig_pool,
    futian_gig_pool,
    django_capture_on_commit_callbacks,
):
    # given: alpha's rider, a known member already enrolled this year
    existing = make_member(org=nanshan_gig_pool, name="冯二", phone="13500135011")
    PlatformRider.objects.create(
        platform=alpha.platform, member=existing, platform_rider_id="R11"
    )
    start, end = coverage_period(program=program, on=timezone.localdate())
    Enrollment.objects.create(
        member=existing,
        program=program,
        period_start=start,
        period_end=end,
        source=EnrollmentSource.SELF,
    )
    body = csv_bytes(messy_gbk_rows(existing.id_number), encoding="gbk", newline="\r\n")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(alpha, body)

    # then
    assert response.status_code == 202, response.content
    batch = EnrollmentBatch.objects.get()
    assert response.json() == {
        "id": batch.pk,
        "status": "queued",
        "url": f"http://testserver/api/v1/enrollment-batches/{batch.pk}/",
    }
    detail = alpha.get(f"{URL}{batch.pk}/").json()
    assert detail["status"] == "done"
    assert detail["total_rows"] == 12
    assert detail["processed_rows"] == 12
    assert (detail["created"], detail["already_enrolled"], detail["rejected"]) == (
        3,
        1,
        8,
    )
    assert batch.file_encoding == "gb18030"
    errors = {(e.row, e.code) for e in BatchRowError.objects.filter(batch=batch)}
    assert errors == {
        (3, "invalid_id"),
        (4, "consent_missing"),
        (5, "duplicate_in_file"),
        (7, "invalid_phone"),
        (8, "unknown_occupation"),
        (9, "duplicate_in_file"),
        (10, "no_union_org"),
        (12, "not_eligible"),
    }
    # new people are applicants in their district's gig-worker union, not members
    created = Member.objects.exclude(pk=existing.pk)
    assert created.count() == 4  # rows 1, 2, 6 and the 15-year-old of row 12
    assert set(created.values_list("status", flat=True)) == {MemberStatus.APPLICANT}
    li = Member.objects.get(name="李四")
    assert li.id_number.endswith("X") and li.phone == "13900139002"
    assert li.occupation == "courier" and li.org == nanshan_gig_pool
    assert Member.objects.get(name="钱七").org == futian_gig_pool
    assert PlatformRider.objects.filter(platform=alpha.platform).count() == 5
    assert Enrollment.objects.filter(program=program).count() == 4
    # one PIPL art. 23 notice per person the batch added, none for the known one
    notices = Notification.objects.filter(template_code="platform_rider_notice")
    assert notices.count() == 4
    assert not notices.filter(member=existing).exists()
    # staging rows are gone once the batch is done
    assert not BatchStagingRow.objects.filter(batch_id=batch.pk).exists()

    # and the errors file
    response = alpha.get(f"{URL}{batch.pk}/errors/")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == ["row", "field", "code", "message"]
    assert [line[:3] for line in lines[1:]] == [
        ["3", "id_number", "invalid_id"],
        ["4", "consent_ref", "consent_missing"],
        ["5", "id_number", "duplicate_in_file"],
        ["7", "phone", "invalid_phone"],
        ["8", "occupation", "unknown_occupation"],
        ["9", "platform_rider_id", "duplicate_in_file"],
        ["10", "city_code", "no_union_org"],
        ["12", "", "not_eligible"],
    ]
    assert lines[-1][3] == "年龄不在16至70周岁之间。"


def test_rerun_with_new_key_is_all_already_enrolled(
    alpha, program, django_capture_on_commit_callbacks
):
    rows = [
        rider_row(name=f"骑手{i}", phone=f"1380013{i:04d}", rider_id=f"R{i}")
        for i in range(20)
    ]
    body = csv_bytes(rows)
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(alpha, body, key="first").status_code == 202
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(alpha, body, key="second").status_code == 202
    first, second = EnrollmentBatch.objects.order_by("pk")
    assert (first.created, first.already_enrolled, first.rejected) == (20, 0, 0)
    assert (second.created, second.already_enrolled, second.rejected) == (0, 20, 0)
    assert Member.objects.count() == 20
    assert Notification.objects.count() == 20


def test_platforms_cannot_see_each_others_batches(
    alpha, beta, program, django_capture_on_commit_callbacks
):
    body = csv_bytes([rider_row(rider_id="A1", phone="13800000001")])
    with django_capture_on_commit_callbacks(execute=True):
        batch_id = upload(alpha, body).json()["id"]
    assert beta.get(f"{URL}{batch_id}/").status_code == 404
    assert beta.get(f"{URL}{batch_id}/errors/").status_code == 404
    assert beta.get("/api/v1/riders/A1/").status_code == 404
    rider = alpha.get("/api/v1/riders/A1/")
    assert rider.status_code == 200
    data = rider.json()
    assert set(data) == {
        "platform_rider_id",
        "id_number",
        "joined_platform_on",
        "offboarded_on",
        "enrollments",
    }
    assert data["id_number"].startswith("4") and "*" * 16 in data["id_number"]
    assert [e["program"] for e in data["enrollments"]] == ["e-road"]
