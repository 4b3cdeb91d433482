"""站内信 page, header count, opt-out toggle and the admin dead-letter list."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from members.actions.notifications import NoticeSpec, notifications_enqueue_many
from members.models import AuditLog, Notification, NotificationChannel
from tests.factories import login_staff, make_staff

pytestmark = pytest.mark.django_db


def inbox_rows(user, n, *, prefix="m"):
    notifications_enqueue_many(
        specs=[
            NoticeSpec(
                template_code="notice_generic",
                channel=NotificationChannel.INBOX,
                dedupe_key=f"{prefix}:{user.pk}:{i}",
                user_id=user.pk,
                params={"title": f"标题{i}", "body": f"正文{i}"},
            )
            for i in range(n)
        ]
    )
    rows = Notification.objects.filter(dedupe_key__startswith=f"{prefix}:{user.pk}:")
    rows.update(status="sent", sent_at=timezone.now())
    return list(rows.order_by("id"))


def test_inbox_lists_own_messages_with_unread_count_in_header(client, worker):
    rows = inbox_rows(worker.user, 3)
    Notification.objects.filter(pk=rows[0].pk).update(read_at=timezone.now())
    client.force_login(worker.user)
    html = client.get("/messages/").content.decode()
    assert "标题2" in html and "正文1" in html
    assert re.search(r'class="nav-messages">消息 <span class="badge">.*?2</span>', html)


def test_inbox_does_not_show_other_peoples_or_undelivered_messages(
    client, worker, other_worker
):
    inbox_rows(other_worker.user, 2, prefix="other")
    mine = inbox_rows(worker.user, 1)
    Notification.objects.filter(pk=mine[0].pk).update(status="pending")
    client.force_login(worker.user)
    html = client.get("/messages/").content.decode()
    assert "标题" not in html
    assert "暂无消息" in html
    assert 'class="badge"' not in html


def test_marking_another_workers_message_read_is_404_and_changes_nothing(
    client, worker, other_worker
):
    (theirs,) = inbox_rows(other_worker.user, 1, prefix="other")
    client.force_login(worker.user)
    response = client.post(f"/messages/{theirs.pk}/read/")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_read_and_mark_all_read(client, worker):
    rows = inbox_rows(worker.user, 3)
    client.force_login(worker.user)
    response = client.post(f"/messages/{rows[1].pk}/read/", {"page": "1"})
    assert response.status_code == 302
    assert response["Location"] == "/messages/?page=1"
    assert [r.read_at is not None for r in Notification.objects.order_by("id")] == [
        False,
        True,
        False,
    ]
    client.post("/messages/read-all/")
    assert Notification.objects.filter(read_at__isnull=True).count() == 0


def test_inbox_is_paginated_and_survives_bad_page_numbers(client, worker):
    inbox_rows(worker.user, 25)
    client.force_login(worker.user)
    first = client.get("/messages/").content.decode()
    second = client.get("/messages/?page=2").content.decode()
    assert first.count('class="inbox-item') == 20
    assert second.count('class="inbox-item') == 5
    for bad in ("abc", "999", "-1", "1" * 400):
        assert client.get(f"/messages/?page={bad}").status_code == 200


def test_inbox_needs_login_and_read_needs_post(client, worker):
    (row,) = inbox_rows(worker.user, 1)
    assert client.get("/messages/").status_code == 302
    client.force_login(worker.user)
    assert client.get(f"/messages/{row.pk}/read/").status_code == 405


def test_header_count_is_one_cheap_query(client, worker):
    inbox_rows(worker.user, 2)
    client.force_login(worker.user)
    with CaptureQueriesContext(connection) as ctx:
        client.get("/privacy/")
    counts = [
        q["sql"] for q in ctx.captured_queries if "members_notification" in q["sql"]
    ]
    assert len(counts) == 1
    assert counts[0].startswith("SELECT COUNT(*)")


def test_anonymous_pages_run_no_inbox_query(client, db):
    with CaptureQueriesContext(connection) as ctx:
        client.get("/privacy/")
    assert not [q for q in ctx.captured_queries if "members_notification" in q["sql"]]


def test_member_toggles_reminder_sms_off_and_on(client, worker):
    client.force_login(worker.user)
    client.post("/messages/reminders/", {})
    worker.refresh_from_db()
    assert worker.reminders_opt_out is True
    html = client.get("/messages/").content.decode()
    assert 'name="receive_reminders">' in html.replace(" checked", "")
    assert 'receive_reminders" checked' not in html
    client.post("/messages/reminders/", {"receive_reminders": "on"})
    worker.refresh_from_db()
    assert worker.reminders_opt_out is False
    actions = list(
        AuditLog.objects.exclude(action="login")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["reminders_opt_out", "reminders_opt_in"]


def test_staff_without_member_record_see_inbox_but_no_toggle(client, nanshan):
    staff = make_staff(org=nanshan)
    inbox_rows(staff, 1)
    login_staff(client, staff)
    html = client.get("/messages/").content.decode()
    assert "标题0" in html
    assert "receive_reminders" not in html
    assert client.post("/messages/reminders/", {}).status_code == 404


def test_admin_lists_dead_letters_with_count_scoped_to_org(
    client, worker, other_worker, reviewer_nanshan
):
    from django.contrib.auth.models import Permission

    reviewer_nanshan.user_permissions.add(
        Permission.objects.get(codename="view_notification")
    )
    for member, key in ((worker, "n"), (other_worker, "f")):
        notifications_enqueue_many(
            specs=[
                NoticeSpec(
                    template_code="notice_generic",
                    channel=NotificationChannel.SMS,
                    dedupe_key=f"{key}{i}",
                    member_id=member.pk,
                    params={"title": "t", "body": "b"},
                    due_at=timezone.now() - timedelta(minutes=1),
                )
                for i in range(3)
            ]
        )
    Notification.objects.filter(dedupe_key__in=["n0", "n1", "f0"]).update(
        status="dead", last_error="SmsError: 503"
    )
    login_staff(client, reviewer_nanshan)
    html = client.get(
        "/admin/members/notification/?status__exact=dead"
    ).content.decode()
    assert "发送失败(死信): <strong>2</strong>" in html
    assert html.count("SmsError: 503") == 2
    assert "13812345678" not in html  # recipients masked, no phone numbers


def test_admin_requeue_action_puts_dead_letters_back(client, worker, reviewer_nanshan):
    from django.contrib.auth.models import Permission

    reviewer_nanshan.user_permissions.add(
        Permission.objects.get(codename="view_notification")
    )
    notifications_enqueue_many(
        specs=[
            NoticeSpec(
                template_code="notice_generic",
                channel=NotificationChannel.SMS,
                dedupe_key="d",
                member_id=worker.pk,
                params={"title": "t", "body": "b"},
            )
        ]
    )
    row = Notification.objects.get()
    Notification.objects.update(status="dead", attempts=5)
    login_staff(client, reviewer_nanshan)
    client.post(
        "/admin/members/notification/",
        {"action": "requeue_dead", "_selected_action": [row.pk]},
    )
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 0)
