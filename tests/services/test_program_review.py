"""PIPL art. 24 (security.md PI10): the nightly check's "no" only puts an
enrollment under staff review (待人工复核); coverage continues; staff confirm
(确认失效) or restore (恢复保障) in the admin, once; the worker sees the reasons
and can ask for an explanation."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import translation

from members.models import AuditLog, DataRequest, Notification, Occupation
from members.notification_templates import render
from portal.exceptions import ApplicationError
from services.actions.programs import (
    REVIEW_NOT_IN_SCOPE,
    REVIEW_NOT_PENDING,
    TEMPLATE_ENDING,
    TEMPLATE_ENDING_UNDER_REVIEW,
    TEMPLATE_LAPSED,
    TEMPLATE_RESTORED,
    TEMPLATE_UNDER_REVIEW,
    enrollment_create,
    enrollment_review_confirm,
    enrollment_review_restore,
    enrollment_withdraw,
    programs_recheck,
    programs_renew,
)
from services.models import Enrollment, EnrollmentEvent, EnrollmentSource
from services.selectors.programs import coverage_for_member
from services.templatetags.program_tags import reasons_display
from tests.factories import login_staff, make_staff, make_user, step_up
from tests.services.conftest import ON, make_person, seed_programs

REVIEW_PERMS = ("services.view_enrollment", "services.change_enrollment")


def under_review(programs, *, org, on=ON) -> Enrollment:
    """A domestic worker enrolled, then moved to another city: the nightly
    check finds her outside the region."""
    worker = make_person(
        org=org,
        user=make_user(),
        occupation=Occupation.DOMESTIC,
        born=date(1980, 1, 1),
    )
    enrollment = Enrollment.objects.create(
        member=worker,
        program=programs["domestic"],
        period_start=date(2026, 1, 1),
        period_end=date(2026, 12, 31),
        source=EnrollmentSource.SELF,
    )
    worker.residence_county = "440106"
    worker.save()
    programs_recheck(on=on)
    enrollment.refresh_from_db()
    assert enrollment.status == "needs_review"
    return enrollment


# --- staff decide --------------------------------------------------------------------


@pytest.mark.django_db
def test_confirm_lapses_with_the_reviewer_an_audit_row_and_a_notice(programs, nanshan):
    enrollment = under_review(programs, org=nanshan)
    reviewer = make_staff(org=nanshan)

    enrollment_review_confirm(enrollment_id=enrollment.pk, reviewer=reviewer)

    enrollment.refresh_from_db()
    assert enrollment.status == "lapsed"
    assert enrollment.status_reason == "常住地不在本计划覆盖地区"
    event = enrollment.events.order_by("id").last()
    assert (event.from_status, event.to_status, event.source, event.actor) == (
        "needs_review",
        "lapsed",
        "staff",
        reviewer,
    )
    assert event.reason == "经工作人员复核确认不再符合条件:常住地不在本计划覆盖地区"
    audit = AuditLog.objects.get(action="program.review_confirm")
    assert (audit.actor, audit.object_id) == (reviewer, str(enrollment.pk))
    notice = Notification.objects.get(template_code=TEMPLATE_LAPSED)
    assert notice.member_id == enrollment.member_id
    assert notice.channel == "sms"
    assert (
        "经工作人员复核,您参加的家政守护" in render(TEMPLATE_LAPSED, notice.params)[1]
    )


@pytest.mark.django_db
def test_restore_reactivates_with_history_audit_and_notice(programs, nanshan):
    enrollment = under_review(programs, org=nanshan)
    reviewer = make_staff(org=nanshan)

    enrollment_review_restore(enrollment_id=enrollment.pk, reviewer=reviewer)

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.status_reason) == ("active", "")
    assert list(
        enrollment.events.values_list("from_status", "to_status", "source", "actor")
    ) == [
        ("active", "needs_review", "nightly", None),
        ("needs_review", "active", "staff", reviewer.pk),
    ]
    assert (
        AuditLog.objects.filter(action="program.review_restore", actor=reviewer).count()
        == 1
    )
    assert Notification.objects.filter(template_code=TEMPLATE_RESTORED).count() == 1
    assert not AuditLog.objects.filter(action="program.review_confirm").exists()


@pytest.mark.django_db
def test_a_restore_holds_for_the_period_instead_of_flagging_every_night(
    programs, nanshan
):
    # given: staff restored her cover although the facts still fail the rule
    enrollment = under_review(programs, org=nanshan)
    enrollment_review_restore(
        enrollment_id=enrollment.pk, reviewer=make_staff(org=nanshan)
    )
    notices = Notification.objects.count()

    # when: the nightly check runs on the following nights
    programs_recheck(on=ON + timedelta(days=1))
    programs_recheck(on=ON + timedelta(days=2))

    # then: no new review, no new message
    enrollment.refresh_from_db()
    assert enrollment.status == "active"
    assert enrollment.restored_on is not None
    assert enrollment.events.count() == 2
    assert Notification.objects.count() == notices


@pytest.mark.django_db
def test_a_second_decision_changes_nothing(programs, nanshan):
    enrollment = under_review(programs, org=nanshan)
    first, second = make_staff(org=nanshan), make_staff(org=nanshan)
    enrollment_review_confirm(enrollment_id=enrollment.pk, reviewer=first)

    with pytest.raises(ApplicationError) as excinfo:
        enrollment_review_restore(enrollment_id=enrollment.pk, reviewer=second)

    assert excinfo.value.message == REVIEW_NOT_PENDING
    enrollment.refresh_from_db()
    assert enrollment.status == "lapsed"
    assert enrollment.events.filter(source="staff").count() == 1
    assert not AuditLog.objects.filter(action="program.review_restore").exists()
    assert not Notification.objects.filter(template_code=TEMPLATE_RESTORED).exists()


@pytest.mark.django_db
def test_a_reviewer_outside_the_subtree_is_refused(programs, nanshan, futian):
    enrollment = under_review(programs, org=nanshan)

    with pytest.raises(ApplicationError) as excinfo:
        enrollment_review_confirm(
            enrollment_id=enrollment.pk, reviewer=make_staff(org=futian)
        )

    assert excinfo.value.message == REVIEW_NOT_IN_SCOPE
    enrollment.refresh_from_db()
    assert enrollment.status == "needs_review"
    assert not enrollment.events.filter(source="staff").exists()


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_at_once_decide_once(sz_tree):
    # given: one enrollment under review, two reviewers of the same district
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    programs = seed_programs()
    nanshan = sz_tree["440305"]
    enrollment = under_review(programs, org=nanshan)
    confirmer, restorer = make_staff(org=nanshan), make_staff(org=nanshan)
    first_claimed = threading.Event()
    outcomes: dict[str, str] = {}

    def confirm():
        try:
            with transaction.atomic():
                enrollment_review_confirm(
                    enrollment_id=enrollment.pk, reviewer=confirmer
                )
                first_claimed.set()
                time.sleep(0.5)  # still uncommitted while the other one runs
            outcomes["confirm"] = "done"
        finally:
            first_claimed.set()
            connection.close()

    def restore():
        first_claimed.wait(5)
        try:
            enrollment_review_restore(enrollment_id=enrollment.pk, reviewer=restorer)
            outcomes["restore"] = "done"
        except ApplicationError as exc:
            outcomes["restore"] = exc.code
        finally:
            connection.close()

    # when: the restore's UPDATE waits on the confirm's row lock
    threads = [threading.Thread(target=confirm), threading.Thread(target=restore)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)

    # then: one decision, the other changed nothing
    assert outcomes == {"confirm": "done", "restore": "not_pending"}
    enrollment.refresh_from_db()
    assert enrollment.status == "lapsed"
    assert EnrollmentEvent.objects.filter(source="staff").count() == 1
    assert AuditLog.objects.filter(action__startswith="program.review").count() == 1
    assert not Notification.objects.filter(template_code=TEMPLATE_RESTORED).exists()


# --- the admin -----------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_filters_reviews_and_confirms_through_the_action(
    client, programs, nanshan
):
    enrollment = under_review(programs, org=nanshan)
    other = make_person(org=nanshan, name="李四", occupation=Occupation.DOMESTIC)
    Enrollment.objects.create(
        member=other,
        program=programs["domestic"],
        period_start=date(2026, 1, 1),
        period_end=date(2026, 12, 31),
        source=EnrollmentSource.PLATFORM,
    )
    staff = make_staff(org=nanshan, perms=REVIEW_PERMS)
    login_staff(client, staff)
    url = reverse("admin:services_enrollment_changelist")

    listed = client.get(url, {"status__exact": "needs_review"})
    response = client.post(
        url, {"action": "review_confirm", "_selected_action": [enrollment.pk]}
    )

    body = listed.content.decode()
    assert listed.status_code == 200
    assert "待人工复核" in body and "确认失效" in body and "恢复保障" in body
    assert "?status__exact=needs_review" in body  # the list filter offers it
    assert enrollment.member.name_masked in body
    assert other.name_masked not in body
    assert response.status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.status == "lapsed"
    assert enrollment.events.get(source="staff").actor == staff


@pytest.mark.django_db
def test_admin_review_needs_the_change_permission_and_the_subtree(
    client, programs, nanshan, futian
):
    enrollment = under_review(programs, org=nanshan)
    url = reverse("admin:services_enrollment_changelist")
    post = {"action": "review_restore", "_selected_action": [enrollment.pk]}

    login_staff(client, make_staff(org=nanshan, perms=("services.view_enrollment",)))
    page = client.get(url).content.decode()
    client.post(url, post)
    login_staff(client, make_staff(org=futian, perms=REVIEW_PERMS))
    client.post(url, post)

    assert "恢复保障" not in page
    enrollment.refresh_from_db()
    assert enrollment.status == "needs_review"
    assert not AuditLog.objects.filter(action="program.review_restore").exists()


# --- coverage continues while under review ---------------------------------------


@pytest.mark.django_db
def test_coverage_continues_and_the_worker_can_still_withdraw(programs, nanshan):
    enrollment = under_review(programs, org=nanshan)
    member = enrollment.member

    covered = coverage_for_member(member=member, on=ON)
    withdrawn = enrollment_withdraw(member=member, enrollment_id=enrollment.pk)

    assert [c.enrollment.pk for c in covered] == [enrollment.pk]
    assert withdrawn.status == "withdrawn"
    assert list(enrollment.events.values_list("from_status", "to_status")) == [
        ("active", "needs_review"),
        ("needs_review", "withdrawn"),
    ]


@pytest.mark.django_db
def test_the_withdraw_page_accepts_an_enrollment_under_review(
    client, programs, nanshan
):
    enrollment = under_review(programs, org=nanshan)
    client.force_login(enrollment.member.user)
    url = reverse("services:enrollment_withdraw", args=[enrollment.pk])

    confirm = client.get(url)
    done = client.post(url)

    assert confirm.status_code == 200
    assert "确认退出" in confirm.content.decode()
    assert done.status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.status == "withdrawn"


@pytest.mark.django_db
def test_enrolling_again_does_not_end_the_review(programs, nanshan):
    enrollment = under_review(programs, org=nanshan)
    member = enrollment.member
    member.residence_county = "440305"  # eligible again: staff still decide
    member.save()

    again, created = enrollment_create(
        member=member, program=programs["domestic"], on=ON
    )

    assert (again.pk, created) == (enrollment.pk, False)
    enrollment.refresh_from_db()
    assert enrollment.status == "needs_review"


@pytest.mark.django_db
def test_renewal_skips_a_review_until_staff_restore_it(programs, nanshan):
    on = date(2026, 12, 1)
    enrollment = under_review(programs, org=nanshan, on=date(2026, 11, 30))
    member = enrollment.member
    member.residence_county = "440305"  # eligible again by renewal time
    member.save()

    before = programs_renew(on=on)
    enrollment_review_restore(
        enrollment_id=enrollment.pk, reviewer=make_staff(org=nanshan)
    )
    after = programs_renew(on=date(2026, 12, 2))

    # still covered until Dec 31, so the 30-day reminder; no renewal under review
    assert (before.renewed, before.reminders) == (0, 1)
    assert after.renewed == 1
    assert Enrollment.objects.filter(
        member=member, period_start=date(2027, 1, 1), status="active"
    ).exists()


# --- the renewal's "no" is reviewable too ---------------------------------------


def ending_enrollment(programs, *, org, residence="440106") -> Enrollment:
    """A domestic worker enrolled for 2026 whose residence (by default Guangzhou)
    fails the region rule; nothing has judged the enrollment yet."""
    worker = make_person(
        org=org,
        user=make_user(),
        occupation=Occupation.DOMESTIC,
        born=date(1980, 1, 1),
        residence_county=residence,
    )
    return Enrollment.objects.create(
        member=worker,
        program=programs["domestic"],
        period_start=date(2026, 1, 1),
        period_end=date(2026, 12, 31),
        source=EnrollmentSource.SELF,
    )


RENEWAL_DAY = date(2026, 12, 1)  # 30 days before the end: the window opens


@pytest.mark.django_db
def test_ineligible_at_renewal_goes_under_review_as_the_recheck_would(
    programs, nanshan
):
    # given: two workers who moved away; the re-check judges one (its night),
    # the renewal the other (it ran first, or her facts changed after 02:30)
    by_recheck = ending_enrollment(programs, org=nanshan)
    programs_recheck(on=RENEWAL_DAY)
    by_renewal = ending_enrollment(programs, org=nanshan)

    # when
    result = programs_renew(on=RENEWAL_DAY)

    # then: not renewed, not silently left to end: under review, with the
    # reasons, a history row and the same SMS as the re-check's
    assert (result.renewed, result.under_review, result.notices) == (0, 1, 1)
    assert not Enrollment.objects.filter(period_start=date(2027, 1, 1)).exists()
    shapes = []
    for enrollment in (by_recheck, by_renewal):
        enrollment.refresh_from_db()
        event = enrollment.events.get()
        notice = Notification.objects.get(
            member=enrollment.member, template_code=TEMPLATE_UNDER_REVIEW
        )
        assert notice.dedupe_key == f"enrollment-review:{enrollment.pk}:2026-12-01"
        shapes.append(
            (
                enrollment.status,
                enrollment.status_reason,
                (event.from_status, event.to_status, event.source, event.reason),
                notice.channel,
                notice.params["findings"],
                [
                    {k: v for k, v in item.items() if k != "enrollment_id"}
                    for item in notice.params["programs"]
                ],
                render(TEMPLATE_UNDER_REVIEW, notice.params)[1],
            )
        )
    assert shapes[0] == shapes[1]
    assert shapes[1][:5] == (
        "needs_review",
        "常住地不在本计划覆盖地区",
        ("active", "needs_review", "nightly", "常住地不在本计划覆盖地区"),
        "sms",
        "家政守护(常住地不在本计划覆盖地区)",
    )


@pytest.mark.django_db
def test_the_nightly_order_does_not_change_the_outcome(programs, nanshan):
    def night(*, renewal_first: bool):
        # given: a worker who moved away and one who qualifies
        Enrollment.objects.all().delete()
        Notification.objects.all().delete()
        role = {
            ending_enrollment(programs, org=nanshan).member_id: "gone",
            ending_enrollment(
                programs, org=nanshan, residence="440305"
            ).member_id: "stays",
        }
        # when: the two jobs run in one order or the other
        jobs = [programs_recheck, programs_renew]
        for job in reversed(jobs) if renewal_first else jobs:
            job(on=RENEWAL_DAY)
        rows = Enrollment.objects.values_list(
            "member_id", "period_start", "status", "status_reason"
        )
        notices = Notification.objects.values_list("member_id", "template_code")
        return (
            sorted((role[m], *rest) for m, *rest in rows),
            sorted((role[m], code) for m, code in notices),
        )

    usual = night(renewal_first=False)
    swapped = night(renewal_first=True)

    # then: the same statuses and notices, member for member
    assert usual == swapped
    assert usual == (
        [
            ("gone", date(2026, 1, 1), "needs_review", "常住地不在本计划覆盖地区"),
            ("stays", date(2026, 1, 1), "active", ""),
            ("stays", date(2027, 1, 1), "active", ""),
        ],
        [
            ("gone", "programs.coverage_ending_under_review"),
            ("gone", "programs.enrollment_under_review"),
        ],
    )


@pytest.mark.django_db
def test_a_restored_cover_renews_and_the_new_period_is_judged_anew(programs, nanshan):
    # given: the renewal put her under review; staff restore her cover,
    # although her recorded residence still fails the rule
    enrollment = ending_enrollment(programs, org=nanshan)
    programs_renew(on=RENEWAL_DAY)
    enrollment_review_restore(
        enrollment_id=enrollment.pk, reviewer=make_staff(org=nanshan)
    )

    # when: the next nights' jobs run
    renewed = programs_renew(on=RENEWAL_DAY + timedelta(days=1))
    programs_recheck(on=RENEWAL_DAY + timedelta(days=2))
    again = programs_renew(on=RENEWAL_DAY + timedelta(days=2))

    # then: renewed without being judged again (staff decided for this
    # period); the next period's row is judged by the re-check on its own, so
    # a confirm there ends 2027 only; the restored 2026 cover is left alone
    assert (renewed.renewed, renewed.under_review) == (1, 0)
    assert (again.renewed, again.under_review, again.notices) == (0, 0, 0)
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.restored_on is not None) == ("active", True)
    successor = Enrollment.objects.get(
        member=enrollment.member, period_start=date(2027, 1, 1)
    )
    assert successor.source == "renewal"
    assert list(successor.events.values_list("to_status", "reason")) == [
        ("active", "经工作人员复核恢复保障,自动续保"),
        ("needs_review", "常住地不在本计划覆盖地区"),
    ]
    assert successor.status == "needs_review"
    enrollment_review_confirm(
        enrollment_id=successor.pk, reviewer=make_staff(org=nanshan)
    )
    enrollment.refresh_from_db()
    assert enrollment.status == "active"


@pytest.mark.django_db
def test_a_confirmed_renewal_review_ends_without_renewal_or_reminders(
    programs, nanshan
):
    # given: the renewal put her under review, staff confirm it
    enrollment = ending_enrollment(programs, org=nanshan)
    programs_renew(on=RENEWAL_DAY)
    enrollment_review_confirm(
        enrollment_id=enrollment.pk, reviewer=make_staff(org=nanshan)
    )
    notices = Notification.objects.count()

    # when: the renewal runs on every remaining night of the window
    results = [programs_renew(on=RENEWAL_DAY + timedelta(days=d)) for d in range(1, 31)]

    # then: lapsed, never renewed, no "ends in 7 days" for a cover already over
    enrollment.refresh_from_db()
    assert enrollment.status == "lapsed"
    assert sum(r.renewed + r.under_review + r.reminders for r in results) == 0
    assert Enrollment.objects.filter(member=enrollment.member).count() == 1
    assert Notification.objects.count() == notices


@pytest.mark.django_db
def test_renewal_twice_changes_nothing_the_second_time(programs, nanshan):
    # given: one worker who qualifies, one under review from the re-check,
    # one restored by staff, and one who moved after that night's re-check
    ending_enrollment(programs, org=nanshan, residence="440305")
    review = ending_enrollment(programs, org=nanshan)
    programs_recheck(on=date(2026, 11, 20))
    restored = ending_enrollment(programs, org=nanshan)
    programs_recheck(on=date(2026, 11, 21))
    enrollment_review_restore(
        enrollment_id=restored.pk, reviewer=make_staff(org=nanshan)
    )
    programs_recheck(on=RENEWAL_DAY)
    ending_enrollment(programs, org=nanshan)

    # when: the task is delivered twice
    first = programs_renew(on=RENEWAL_DAY)
    snapshot = (
        sorted(Enrollment.objects.values_list("id", "status", "status_reason")),
        EnrollmentEvent.objects.count(),
        Notification.objects.count(),
    )
    second = programs_renew(on=RENEWAL_DAY)

    # then
    assert (first.renewed, first.under_review, first.notices, first.reminders) == (
        2,
        1,
        1,
        2,
    )
    assert (second.renewed, second.under_review, second.notices) == (0, 0, 0)
    assert second.reminders == 0
    assert snapshot == (
        sorted(Enrollment.objects.values_list("id", "status", "status_reason")),
        EnrollmentEvent.objects.count(),
        Notification.objects.count(),
    )
    review.refresh_from_db()
    assert review.status == "needs_review"


@pytest.mark.django_db
def test_a_cover_under_review_is_reminded_that_it_is_under_review(programs, nanshan):
    # given: under review since the summer's re-check
    enrollment = under_review(programs, org=nanshan)

    # when: 30 and 7 days before the end
    at_30 = programs_renew(on=RENEWAL_DAY)
    at_7 = programs_renew(on=date(2026, 12, 24))

    # then: both reminders say it ends, that staff are reviewing it, that a
    # restore renews it and how to ask why; never the plain "ends" text
    assert (at_30.reminders, at_7.reminders) == (1, 1)
    assert not Notification.objects.filter(template_code=TEMPLATE_ENDING).exists()
    reminders = Notification.objects.filter(
        template_code=TEMPLATE_ENDING_UNDER_REVIEW
    ).order_by("id")
    assert [n.dedupe_key for n in reminders] == [
        f"enrollment-ending:{enrollment.pk}:30",
        f"enrollment-ending:{enrollment.pk}:7",
    ]
    title, text = render(TEMPLATE_ENDING_UNDER_REVIEW, reminders[1].params)
    assert title == "家政守护即将到期(待人工复核)"
    assert text.startswith("您的家政守护保障将于2026-12-31到期(还有7天)。")
    assert "工作人员正在人工复核,复核期间保障继续有效" in text
    assert "复核恢复保障的,将自动续保" in text
    assert "要求说明自动判断的理由" in text


@pytest.mark.django_db
def test_no_ending_reminder_when_the_next_period_is_under_review(programs, nanshan):
    # given: renewed into 2027, then the re-check put the 2027 row under review
    # (she moved after the renewal); staff restored 2026 already
    enrollment = ending_enrollment(programs, org=nanshan, residence="440305")
    programs_renew(on=RENEWAL_DAY)
    member = enrollment.member
    member.residence_county = "440106"
    member.save()
    programs_recheck(on=date(2026, 12, 10))
    enrollment.refresh_from_db()
    enrollment_review_restore(
        enrollment_id=enrollment.pk, reviewer=make_staff(org=nanshan)
    )
    successor = Enrollment.objects.get(member=member, period_start=date(2027, 1, 1))
    assert successor.status == "needs_review"

    # when: 7 days before the end of 2026
    result = programs_renew(on=date(2026, 12, 24))

    # then: her cover does not simply end (2027 continues under review)
    assert result.reminders == 0
    assert not Notification.objects.filter(category="reminder").exists()


# --- what the worker sees ----------------------------------------------------------


@pytest.mark.django_db
def test_my_coverage_shows_the_review_reasons_and_the_explanation_link(
    client, programs, nanshan
):
    enrollment = under_review(programs, org=nanshan)
    client.force_login(enrollment.member.user)

    body = client.get(reverse("services:my_coverage")).content.decode()

    now = body.split('id="now"')[1].split("</section>")[0]
    assert "家政守护" in now  # still covered
    assert "待人工复核" in now
    assert "常住地不在本计划覆盖地区" in now
    assert f'href="{reverse("members:data_request")}?kind=explanation"' in now
    assert reverse("services:enrollment_withdraw", args=[enrollment.pk]) in now


@pytest.mark.django_db
def test_my_coverage_in_english_translates_status_and_reasons(
    client, programs, nanshan
):
    enrollment = under_review(programs, org=nanshan)
    client.force_login(enrollment.member.user)

    body = client.get(
        reverse("services:my_coverage"), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()

    assert "Under staff review" in body
    assert "place of residence is outside the area this plan covers" in body
    assert "常住地" not in body


def test_reasons_display_translates_parametrised_reasons():
    with translation.override("en"):
        assert reasons_display("年龄不在18–60岁之间;在平台工作未满3个月") == [
            "Your age is not between 18 and 60",
            "You have worked on a platform for less than 3 months",
        ]
        assert reasons_display("工作人员手写的原因") == ["工作人员手写的原因"]
    with translation.override("zh-hans"):
        assert reasons_display("在平台工作未满3个月") == ["在平台工作未满3个月"]


@pytest.mark.django_db
def test_an_explanation_request_comes_back_to_its_kind_after_the_sms_step(
    client, programs, nanshan
):
    enrollment = under_review(programs, org=nanshan)
    client.force_login(enrollment.member.user)

    response = client.post(reverse("members:data_request"), {"kind": "explanation"})

    assert response.status_code == 302
    assert "kind%3Dexplanation" in response["Location"]
    assert not DataRequest.objects.exists()


@pytest.mark.django_db
def test_the_worker_asks_for_an_explanation_and_staff_answer_it(
    client, programs, nanshan
):
    # given: the worker follows the link on 我的保障
    enrollment = under_review(programs, org=nanshan)
    client.force_login(enrollment.member.user)
    step_up(client)
    page = client.get(reverse("members:data_request"), {"kind": "explanation"})

    # when: they file it, and staff of the district answer it
    client.post(
        reverse("members:data_request"),
        {"kind": "explanation", "note": "我仍在南山居住"},
    )
    request = DataRequest.objects.get()
    login_staff(
        client,
        make_staff(
            org=nanshan,
            perms=("members.view_datarequest", "members.change_datarequest"),
        ),
    )
    client.post(
        reverse("admin:members_datarequest_changelist"),
        {
            "action": "answer_selected",
            "_selected_action": [request.pk],
            "apply": "1",
            "reason": "系统记录的常住地为广州市,请更新常住地后联系我们复核。",
        },
    )

    # then
    assert page.status_code == 200
    assert 'value="explanation" selected' in page.content.decode()
    request.refresh_from_db()
    assert (request.kind, request.member_id) == ("explanation", enrollment.member_id)
    assert request.org == nanshan
    assert request.status == "done"
    assert request.response.startswith("系统记录的常住地为广州市")


@pytest.mark.slow
def test_the_recheck_and_the_review_pass_on_sqlite():
    """The nightly SQL has a SQLite dialect (json_object, group_concat)."""
    from tests.sqlite_run import pytest_on_sqlite

    result = pytest_on_sqlite(
        "tests/services/test_program_review.py",
        "tests/services/test_program_actions.py",
        "-m",
        "not slow",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout


@pytest.mark.django_db
def test_the_program_page_says_the_cover_is_under_review(client, programs, nanshan):
    enrollment = under_review(programs, org=nanshan)
    client.force_login(enrollment.member.user)

    body = client.get(
        reverse("services:program_detail", args=[enrollment.program.code])
    ).content.decode()

    assert "你的保障正在人工复核,复核期间继续有效。" in body
    assert "你正受本计划保障。" not in body
    assert reverse("services:enrollment_withdraw", args=[enrollment.pk]) in body
