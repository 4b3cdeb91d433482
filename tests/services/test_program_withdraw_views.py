"""Worker withdraws from a named program: confirmation step, POST with CSRF,
owner only, once, with a history event, an audit row and an inbox notice."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from members.models import AuditLog, Notification, Occupation
from services.actions.programs import TEMPLATE_WITHDRAWN
from services.models import Enrollment, EnrollmentEvent, EnrollmentStatus
from tests.factories import make_user
from tests.services.conftest import make_person

pytestmark = pytest.mark.django_db


def enrolled(client, programs) -> Enrollment:
    member = make_person(
        user=make_user(), occupation=Occupation.DOMESTIC, born=date(1980, 1, 1)
    )
    client.force_login(member.user)
    client.post(reverse("services:program_enroll", args=["domestic"]))
    return Enrollment.objects.get(member=member)


def url(enrollment: Enrollment) -> str:
    return reverse("services:enrollment_withdraw", args=[enrollment.pk])


def test_my_coverage_links_to_the_confirmation_step(client, programs):
    enrollment = enrolled(client, programs)

    page = client.get(reverse("services:my_coverage")).content.decode()
    confirm = client.get(url(enrollment))

    assert url(enrollment) in page
    assert "退出该计划" in page
    assert confirm.status_code == 200
    body = confirm.content.decode()
    assert "退出家政守护" in body
    assert "确认退出" in body
    assert 'name="csrfmiddlewaretoken"' in body
    # the GET changed nothing
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE


def test_owner_withdraws_once_with_event_audit_and_notice(client, programs):
    enrollment = enrolled(client, programs)

    response = client.post(url(enrollment), follow=True)

    assert response.redirect_chain[-1][0] == reverse("services:my_coverage")
    assert "已退出家政守护。" in response.content.decode()
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.WITHDRAWN
    event = EnrollmentEvent.objects.get(
        enrollment=enrollment, to_status=EnrollmentStatus.WITHDRAWN
    )
    assert event.from_status == EnrollmentStatus.ACTIVE
    assert event.source == "worker"
    assert AuditLog.objects.filter(
        action="program.withdraw", object_id=str(enrollment.pk)
    ).exists()
    notice = Notification.objects.get(template_code=TEMPLATE_WITHDRAWN)
    assert notice.member_id == enrollment.member_id
    assert notice.params["program_name"] == "家政守护"
    # the worker no longer sees a withdraw button for it
    page = client.get(reverse("services:my_coverage")).content.decode()
    assert url(enrollment) not in page


def test_double_submit_withdraws_once(client, programs):
    enrollment = enrolled(client, programs)

    first = client.post(url(enrollment))
    second = client.post(url(enrollment), follow=True)

    assert first.status_code == 302
    assert second.status_code == 200
    assert "你已退出家政守护。" in second.content.decode()
    assert (
        EnrollmentEvent.objects.filter(
            enrollment=enrollment, to_status=EnrollmentStatus.WITHDRAWN
        ).count()
        == 1
    )
    assert Notification.objects.filter(template_code=TEMPLATE_WITHDRAWN).count() == 1


def test_ended_enrollment_cannot_be_withdrawn_clear_message(client, programs):
    enrollment = enrolled(client, programs)
    Enrollment.objects.filter(pk=enrollment.pk).update(status=EnrollmentStatus.LAPSED)

    posted = client.post(url(enrollment), follow=True)
    shown = client.get(url(enrollment), follow=True)

    for response in (posted, shown):
        assert response.status_code == 200
        assert "只有保障中的参保记录可以退出。" in response.content.decode()
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.LAPSED
    assert not EnrollmentEvent.objects.filter(
        enrollment=enrollment, to_status=EnrollmentStatus.WITHDRAWN
    ).exists()


def test_english_message_for_not_active(client, programs):
    enrollment = enrolled(client, programs)
    Enrollment.objects.filter(pk=enrollment.pk).update(status=EnrollmentStatus.ENDED)

    response = client.post(
        url(enrollment), follow=True, headers={"accept-language": "en"}
    )

    assert "Only active cover can be withdrawn from." in response.content.decode()


def test_another_worker_gets_404(client, programs):
    enrollment = enrolled(client, programs)
    other = Client()
    stranger = make_person(user=make_user(), occupation=Occupation.DOMESTIC)
    other.force_login(stranger.user)

    assert other.get(url(enrollment)).status_code == 404
    assert other.post(url(enrollment)).status_code == 404
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE


def test_user_without_member_record_gets_404(client, programs):
    enrollment = enrolled(client, programs)
    other = Client()
    other.force_login(make_user())

    assert other.post(url(enrollment)).status_code == 404


def test_unknown_id_is_404_and_login_required(client, programs):
    enrollment = enrolled(client, programs)
    anonymous = Client()

    assert (
        client.post(reverse("services:enrollment_withdraw", args=[999999])).status_code
        == 404
    )
    response = anonymous.post(url(enrollment))
    assert response.status_code == 302
    assert reverse("members:login") in response["Location"]


def test_withdraw_post_needs_csrf(programs):
    client = Client()
    enrollment = enrolled(client, programs)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(enrollment.member.user)

    response = strict.post(url(enrollment))

    assert response.status_code == 403
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE


def test_program_page_offers_withdraw_only_for_a_named_enrollment(client, programs):
    enrollment = enrolled(client, programs)

    named = client.get(reverse("services:program_detail", args=["domestic"]))
    other = client.get(reverse("services:program_detail", args=["e_road"]))

    assert url(enrollment) in named.content.decode()
    assert "退出该计划" not in other.content.decode()


def test_the_workers_data_export_holds_their_enrollments_and_history(client, programs):
    from tests.factories import step_up

    enrollment = enrolled(client, programs)
    client.post(url(enrollment))
    step_up(client)

    response = client.post(reverse("members:export"))

    [exported] = response.json()["enrollments"]
    assert exported["program_code"] == "domestic"
    assert exported["status"] == EnrollmentStatus.WITHDRAWN
    assert [h["to_status"] for h in exported["history"]] == ["active", "withdrawn"]
    assert exported["created_at"].endswith("+08:00")  # Asia/Shanghai, not UTC


def test_an_export_without_membership_has_an_empty_enrollments_section(client):
    from tests.factories import step_up

    client.force_login(make_user())
    step_up(client)

    assert client.post(reverse("members:export")).json()["enrollments"] == []
