"""The retention job (security.md PI8): each category after its period, with the
clock passed in (`now=`), audit rows, idempotence, the deletion-request hook, the
management command and the beat entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from members.actions.people import data_request_create, data_request_process
from members.actions.retention import retention_run
from members.models import (
    ANONYMISED_NAME,
    ApplicationStatus,
    AuditLog,
    DataRequest,
    Member,
    MembershipApplication,
    MembershipEvent,
    MemberStatus,
    Notification,
    NotificationStatus,
    OneTimeCode,
    PlatformRider,
)
from portal.crypto import blind_index
from portal.schedules import DEFAULT_SCHEDULES
from tests.factories import login_staff, make_member, make_platform, make_staff
from tests.members.factories import make_verified_user, submit_application

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _periods(settings):
    settings.RETENTION_APPLICATION_DAYS = 30
    settings.RETENTION_EX_MEMBER_DAYS = 60
    settings.RETENTION_OTP_DAYS = 180
    settings.RETENTION_NOTIFICATION_DAYS = 200
    settings.RETENTION_BATCH_FILE_DAYS = 10
    settings.RETENTION_CHUNK = 2  # several chunks with a handful of rows


def counts(results) -> dict[str, int]:
    return {r.category: r.count for r in results}


def summary(action: str, category: str) -> list[AuditLog]:
    return list(AuditLog.objects.filter(action=action, object_type=category))


def rejected_application(*, decided_at: datetime) -> MembershipApplication:
    application = submit_application(org=_pool())
    MembershipApplication.objects.filter(pk=application.pk).update(
        status=ApplicationStatus.REJECTED,
        reject_reason="材料不全",
        decided_at=decided_at,
    )
    return application


def _pool():
    from members.models import UnionOrg

    return UnionOrg.objects.filter(is_gig_pool=True).first()


@pytest.mark.django_db
def test_rejected_application_deleted_the_day_after_its_period(sz):
    # given: a rejected application decided at T0; period 30 days
    application = rejected_application(decided_at=T0)
    pk = application.pk
    events = MembershipEvent.objects.filter(application_id=pk).count()
    assert events >= 1

    # when: the job runs on the last day of the period
    on_time = retention_run(now=T0 + 30 * DAY - timedelta(seconds=1))
    # then: it is still there
    assert counts(on_time)["membership_applications"] == 0
    assert MembershipApplication.objects.filter(pk=pk).exists()

    # when: the job runs at close + N + 1
    done = retention_run(now=T0 + 31 * DAY)

    # then: row gone, history kept (unlinked), per-record + summary audit rows
    assert counts(done)["membership_applications"] == 1
    assert not MembershipApplication.objects.filter(pk=pk).exists()
    assert MembershipEvent.objects.filter(application_id=pk).count() == 0
    assert MembershipEvent.objects.filter(user=application.user).count() == events
    per_record = AuditLog.objects.get(
        action="retention_delete",
        object_type="membership_application",
        object_id=str(pk),
    )
    assert per_record.actor_role == "system"
    [row] = summary("retention_delete", "membership_applications")
    assert row.detail["count"] == 1
    assert row.detail["days"] == 30


@pytest.mark.django_db
def test_pending_and_approved_applications_are_kept(sz):
    pending = submit_application(org=_pool())
    MembershipApplication.objects.filter(pk=pending.pk).update(
        updated_at=T0 - 400 * DAY
    )

    retention_run(now=T0 + 400 * DAY)

    assert MembershipApplication.objects.filter(pk=pending.pk).exists()


@pytest.mark.django_db
def test_ex_member_anonymised_after_period_and_no_longer_findable(sz):
    # given: a member who withdrew at T0, with a platform account and an
    # approved application; an active member left alone
    id_number = "440305199003070011"
    from members.validators import id_check_char

    id_number = id_number[:17] + id_check_char(id_number[:17])
    phone = "13912345678"
    gone = make_member(
        org=_pool(),
        name="李四光",
        id_number=id_number,
        phone=phone,
        status=MemberStatus.WITHDRAWN,
        left_at=T0,
        member_no="GH0001",
        user=make_verified_user(),
    )
    rider = PlatformRider.objects.create(
        platform=make_platform(), member=gone, platform_rider_id="MT-778899"
    )
    stays = make_member(org=_pool(), status=MemberStatus.ACTIVE)

    # when: within the period, then after it
    assert counts(retention_run(now=T0 + 59 * DAY))["ex_members"] == 0
    result = retention_run(now=T0 + 61 * DAY)

    # then: row and statistics kept, PII and blind indexes erased
    assert counts(result)["ex_members"] == 1
    gone.refresh_from_db()
    assert gone.name == ANONYMISED_NAME
    assert gone.id_number == "" and gone.phone == ""
    assert gone.phone_hmac is None
    assert gone.id_number_hmac == f"anon:{gone.pk}"
    assert gone.user_id is None
    assert gone.anonymised_at == T0 + 61 * DAY
    assert (gone.status, gone.member_no, gone.org_id) == (
        MemberStatus.WITHDRAWN,
        "GH0001",
        _pool().pk,
    )
    assert gone.birth_date is not None and gone.occupation
    rider.refresh_from_db()
    assert rider.platform_rider_id == f"anon:{rider.pk}"
    # the blind indexes of the old values find nothing any more
    assert not Member.objects.filter(
        id_number_hmac=blind_index(id_number, purpose="id_number")
    ).exists()
    assert not Member.objects.filter(
        phone_hmac=blind_index(phone, purpose="phone")
    ).exists()
    # the ciphertext columns are empty in the database itself
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id_number, phone FROM members_member WHERE id = %s", [gone.pk]
        )
        assert cursor.fetchone() == ("", "")
    stays.refresh_from_db()
    assert stays.anonymised_at is None and stays.name != ANONYMISED_NAME
    assert AuditLog.objects.filter(
        action="retention_anonymise", object_type="member", member=gone
    ).exists()
    [row] = summary("retention_anonymise", "ex_members")
    assert row.detail["count"] == 1


@pytest.mark.django_db
def test_ex_member_without_left_at_uses_last_update(sz):
    member = make_member(org=_pool(), status=MemberStatus.EXPELLED)
    Member.objects.filter(pk=member.pk).update(updated_at=T0)

    assert counts(retention_run(now=T0 + 59 * DAY))["ex_members"] == 0
    assert counts(retention_run(now=T0 + 61 * DAY))["ex_members"] == 1


@pytest.mark.django_db
def test_otp_rows_and_old_finished_notices_deleted(sz):
    old_code = OneTimeCode.objects.create(
        phone_hmac="h" * 64,
        purpose="register",
        code_hash="x",
        created_at=T0,
        expires_at=T0 + timedelta(minutes=5),
    )
    fresh_code = OneTimeCode.objects.create(
        phone_hmac="h" * 64,
        purpose="register",
        code_hash="y",
        created_at=T0 + 5 * DAY,
        expires_at=T0 + 5 * DAY,
    )
    user = make_verified_user()
    sent = [
        Notification.objects.create(
            user=user,
            channel="inbox",
            template_code="data_request_received",
            params={"request_id": n, "kind": "export"},
            dedupe_key=f"t:{n}",
            due_at=T0,
            status=NotificationStatus.SENT,
        )
        for n in range(5)
    ]
    pending = Notification.objects.create(
        user=user,
        channel="sms",
        template_code="data_request_received",
        params={"request_id": 9, "kind": "export"},
        dedupe_key="t:pending",
        due_at=T0,
    )
    Notification.objects.filter(pk__in=[n.pk for n in [*sent, pending]]).update(
        created_at=T0
    )

    early = counts(retention_run(now=T0 + 181 * DAY))
    assert early["otp_codes"] == 1 and early["notifications"] == 0
    assert list(OneTimeCode.objects.values_list("pk", flat=True)) == [fresh_code.pk]
    assert old_code.pk != fresh_code.pk

    result = counts(retention_run(now=T0 + 201 * DAY))

    assert result["otp_codes"] == 1
    assert result["notifications"] == 5  # five rows in chunks of two
    assert list(Notification.objects.values_list("pk", flat=True)) == [pending.pk]
    [row] = summary("retention_delete", "notifications")
    assert row.detail["count"] == 5


@pytest.mark.django_db
def test_second_run_changes_nothing_and_writes_no_audit_row(sz):
    rejected_application(decided_at=T0)
    make_member(org=_pool(), status=MemberStatus.LAPSED, left_at=T0)
    first = counts(retention_run(now=T0 + 400 * DAY))
    audit_rows = AuditLog.objects.count()
    members = list(Member.objects.values_list("pk", "name", "updated_at"))

    second = counts(retention_run(now=T0 + 400 * DAY))

    assert first["membership_applications"] == 1 and first["ex_members"] == 1
    assert set(second.values()) == {0}
    assert AuditLog.objects.count() == audit_rows
    assert list(Member.objects.values_list("pk", "name", "updated_at")) == members


@pytest.mark.django_db
def test_dry_run_counts_and_changes_nothing(sz):
    rejected_application(decided_at=T0)
    before = AuditLog.objects.count()

    result = counts(retention_run(now=T0 + 31 * DAY, dry_run=True))

    assert result["membership_applications"] == 1
    assert MembershipApplication.objects.count() == 1
    assert AuditLog.objects.count() == before


@pytest.mark.django_db
def test_run_retention_command_dry_run_prints_each_category(sz):
    rejected_application(decided_at=T0 - 400 * DAY)
    out = StringIO()

    call_command("run_retention", "--dry-run", stdout=out)

    text = out.getvalue()
    for code in (
        "membership_applications",
        "ex_members",
        "otp_codes",
        "notifications",
        "batch_files",
    ):
        assert code in text
    assert "membership_applications\tretention_delete\t30 days" in text
    assert "due: 1" in text
    assert MembershipApplication.objects.count() == 1


@pytest.mark.django_db
def test_run_retention_command_applies(sz):
    rejected_application(decided_at=T0 - 400 * DAY)

    call_command("run_retention", stdout=StringIO())

    assert MembershipApplication.objects.count() == 0


@pytest.mark.django_db
def test_approved_deletion_request_uses_the_retention_path(sz):
    # given: a withdrawn member with an account, who asks for deletion; and an
    # applicant whose draft application should go
    user = make_verified_user()
    member = make_member(
        org=_pool(), user=user, status=MemberStatus.WITHDRAWN, left_at=T0
    )
    applicant = make_verified_user()
    application = submit_application(user=applicant, org=_pool())
    staff = make_staff(org=_pool(), is_superuser=True)
    request = data_request_create(user=user, kind="deletion")
    other = data_request_create(user=applicant, kind="deletion")

    # when: staff process both (inside a request: its id and IP go on the rows)
    from portal.request_context import RequestContext, reset, set_current

    token = set_current(RequestContext(request_id="req-42", ip="203.0.113.7"))
    try:
        data_request_process(request_id=request.pk, staff=staff, status="done")
        data_request_process(request_id=other.pk, staff=staff, status="done")
    finally:
        reset(token)

    # then: anonymised now (not after the period), application deleted, audited
    member.refresh_from_db()
    assert member.name == ANONYMISED_NAME and member.anonymised_at is not None
    assert not MembershipApplication.objects.filter(pk=application.pk).exists()
    assert AuditLog.objects.filter(
        action="retention_anonymise", member=member, reason__contains="本人申请删除"
    ).exists()
    erased = AuditLog.objects.get(
        action="retention_delete",
        object_type="membership_application",
        object_id=str(application.pk),
    )
    assert (erased.request_id, erased.ip) == ("req-42", "203.0.113.7")
    assert DataRequest.objects.get(pk=request.pk).status == "done"


@pytest.mark.django_db
def test_deletion_request_keeps_a_current_membership(sz):
    user = make_verified_user()
    member = make_member(org=_pool(), user=user, status=MemberStatus.ACTIVE)
    staff = make_staff(org=_pool(), is_superuser=True)
    request = data_request_create(user=user, kind="deletion")

    data_request_process(request_id=request.pk, staff=staff, status="done")

    member.refresh_from_db()
    assert member.anonymised_at is None and member.name != ANONYMISED_NAME


@pytest.mark.django_db
def test_withdrawal_request_records_when_the_member_left(sz):
    user = make_verified_user()
    member = make_member(org=_pool(), user=user, status=MemberStatus.ACTIVE)
    staff = make_staff(org=_pool(), is_superuser=True)
    request = data_request_create(user=user, kind="withdrawal")

    data_request_process(request_id=request.pk, staff=staff, status="done")

    member.refresh_from_db()
    assert member.status == MemberStatus.WITHDRAWN and member.left_at is not None


def test_retention_job_is_scheduled_daily_on_a_routed_queue():
    import members.tasks  # noqa: F401 - registers the tasks
    from portal.celery import app

    [entry] = [
        e for e in DEFAULT_SCHEDULES if e["task"] == "members.tasks.retention_run"
    ]
    assert entry["crontab"]["hour"] == "4" and entry["queue"] == "default"
    assert "members.tasks.retention_run" in app.tasks


@pytest.mark.celery_live
@pytest.mark.django_db(transaction=True)
def test_beat_entry_runs_on_a_real_worker_and_a_second_delivery_changes_nothing(
    sz, celery_live_worker
):
    import time

    from django.utils import timezone
    from django_celery_beat.models import PeriodicTask

    from members.actions.schedules import schedules_sync
    from portal.celery import app

    # given: an ex-member and a rejected application well past their periods,
    # and the beat rows as `sync_schedules` makes them
    long_ago = timezone.now() - 400 * DAY
    gone = make_member(org=_pool(), status=MemberStatus.WITHDRAWN, left_at=long_ago)
    application = rejected_application(decided_at=long_ago)
    schedules_sync()
    beat = PeriodicTask.objects.get(task="members.tasks.retention_run")
    assert beat.enabled and beat.queue == "default"

    # when: beat's message is delivered twice (as beat sends it: name + queue)
    app.send_task(beat.task, queue=beat.queue)
    app.send_task(beat.task, queue=beat.queue)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = (
            AuditLog.objects.filter(
                action="retention_anonymise", object_type="ex_members"
            ).exists()
            and not MembershipApplication.objects.filter(pk=application.pk).exists()
        )
        if done and _settled():
            break
        time.sleep(0.2)

    # then: done once, one summary row per category, nothing more
    gone.refresh_from_db()
    assert gone.name == ANONYMISED_NAME
    assert not MembershipApplication.objects.filter(pk=application.pk).exists()
    assert (
        AuditLog.objects.filter(action="retention_anonymise", member=gone).count() == 1
    )
    assert len(summary("retention_anonymise", "ex_members")) == 1
    assert len(summary("retention_delete", "membership_applications")) == 1


def _settled() -> bool:
    """Both deliveries ran: the queue is empty and nothing is executing."""
    from portal.celery import app

    inspect = app.control.inspect(timeout=0.5)
    active = inspect.active() or {}
    reserved = inspect.reserved() or {}
    return not any(active.values()) and not any(reserved.values())


@pytest.mark.django_db
def test_admin_shows_the_schedule_read_only_to_auditors(client, sz):
    auditor = make_staff(org=_pool(), perms=("members.view_auditlog_all",))
    clerk = make_staff(org=_pool())
    url = "/admin/members/auditlog/retention/"

    login_staff(client, clerk)
    denied = client.get(url)
    login_staff(client, auditor)
    page = client.get(url)
    listing = client.get("/admin/members/auditlog/")

    assert denied.status_code == 403
    assert page.status_code == 200
    body = page.content.decode()
    assert "RETENTION_EX_MEMBER_DAYS" in body and "<td>60</td>" in body
    assert "batch_files" in body
    assert url in listing.content.decode()


@pytest.mark.parametrize("name", ["RETENTION_OTP_DAYS", "RETENTION_NOTIFICATION_DAYS"])
def test_settings_refuse_log_periods_under_180_days(name):
    """security.md LG4: the purge job never deletes log rows younger than 180
    days; the settings module refuses a shorter period at startup."""
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import tests.settings"],
        env={**os.environ, name: "179"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "at least 180" in result.stderr


@pytest.mark.django_db
def test_a_run_while_another_holds_the_lock_changes_nothing(sz):
    import psycopg2

    from members.actions.retention import _LOCK_KEY

    if connection.vendor != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    rejected_application(decided_at=T0)
    params = connection.get_connection_params()
    other = psycopg2.connect(
        **{k: v for k, v in params.items() if k in ("host", "port", "user", "dbname")}
        | ({"password": params["password"]} if params.get("password") else {})
    )
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [_LOCK_KEY])

        blocked = retention_run(now=T0 + 400 * DAY)

        assert blocked == []
        assert MembershipApplication.objects.count() == 1
    finally:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])
        other.close()
    assert counts(retention_run(now=T0 + 400 * DAY))["membership_applications"] == 1


@pytest.mark.django_db
def test_numbers_typed_into_a_data_request_and_its_answer_are_kept_masked(sz):
    user = make_verified_user()
    make_member(org=_pool(), user=user)
    staff = make_staff(org=_pool(), is_superuser=True)

    request = data_request_create(
        user=user, kind="export", note="寄到我的邮箱，或打 139-8765-4321"
    )
    data_request_process(
        request_id=request.pk,
        staff=staff,
        status="refused",
        response="请本人持身份证 440305 19900307 1236 到窗口办理",
    )

    request.refresh_from_db()
    assert request.note == "寄到我的邮箱，或打 139****4321"
    assert request.response == "请本人持身份证 4****************6 到窗口办理"


@pytest.mark.django_db
def test_request_notices_name_the_kind_and_outcome_in_words(sz):
    user = make_verified_user()
    make_member(org=_pool(), user=user)
    staff = make_staff(org=_pool(), is_superuser=True)

    request = data_request_create(user=user, kind="export")
    data_request_process(request_id=request.pk, staff=staff, status="done")

    received = Notification.objects.get(template_code="data_request_received")
    processed = Notification.objects.get(template_code="data_request_processed")
    assert received.params["kind"] == "复制我的个人信息"
    assert (processed.params["kind"], processed.params["status"]) == (
        "复制我的个人信息",
        "已办结",
    )
