"""Joining (入会): submit, resubmit, approve, reject (BR-M1..M3, domain.md §8)."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from members.actions import joining as j
from members.models import (
    ApplicationStatus,
    AuditLog,
    ConsentRecord,
    Member,
    MembershipApplication,
    MembershipEvent,
    MemberStatus,
    Notification,
)
from members.notices import SENSITIVE_PI_JOIN_NOTICE_VERSION
from members.validators import MSG_AGE_RANGE, MSG_ID_CHECKSUM
from portal.exceptions import ApplicationError, ConflictError
from tests.factories import make_id_number, make_member
from tests.members.factories import make_verified_user, submit_application

pytestmark = pytest.mark.django_db


def test_submit_defaults_to_the_residence_districts_gig_pool(sz):
    # given
    user = make_verified_user(phone="13700001111")
    # when
    application = submit_application(
        user=user, id_number="44030519900307123 6", residence_county="440305"
    )
    # then
    assert application.status == ApplicationStatus.PENDING
    assert application.org == sz["440305_pool"]
    assert application.org.name == "南山区新业态联合工会"
    assert application.id_number == "440305199003071236"
    assert application.phone == "13700001111"
    assert application.birth_date == date(1990, 3, 7)
    assert application.gender == "M"
    consent = ConsentRecord.objects.get(user=user)
    assert consent.notice_version == SENSITIVE_PI_JOIN_NOTICE_VERSION
    assert consent.withdrawn_at is None
    assert list(MembershipEvent.objects.values_list("kind", flat=True)) == ["submitted"]
    assert AuditLog.objects.filter(action="membership_application_submit").count() == 1
    assert list(Notification.objects.values_list("template_code", flat=True)) == [
        "membership_application_received"
    ]


def test_submit_needs_a_verified_phone(sz):
    user = make_verified_user()
    user.phone_verified_at = None
    user.save()

    with pytest.raises(ApplicationError) as exc:
        submit_application(user=user)

    assert exc.value.message == j.MSG_PHONE_NOT_VERIFIED
    assert not MembershipApplication.objects.exists()


def test_submit_refuses_bad_check_digit_and_ages_outside_16_to_70(sz):
    with pytest.raises(ValidationError) as exc:
        submit_application(id_number="440305199003071235")
    assert exc.value.messages == [MSG_ID_CHECKSUM]

    too_young = make_id_number(born=date.today().replace(year=date.today().year - 15))
    with pytest.raises(ValidationError) as exc:
        submit_application(id_number=too_young)
    assert exc.value.messages == [MSG_AGE_RANGE.format(low=16, high=70)]
    assert not MembershipApplication.objects.exists()


def test_second_pending_application_for_one_id_is_refused(sz):
    number = make_id_number()
    submit_application(id_number=number)

    with pytest.raises(ApplicationError) as exc:
        submit_application(id_number=" " + number.lower())

    assert exc.value.message == j.MSG_PENDING_EXISTS
    assert MembershipApplication.objects.count() == 1
    assert ConsentRecord.objects.count() == 1


def test_active_member_cannot_apply_again(sz, nanshan_pool):
    member = make_member(org=nanshan_pool)

    with pytest.raises(ApplicationError) as exc:
        submit_application(id_number=member.id_number)

    assert exc.value.message == j.MSG_ALREADY_MEMBER
    assert not MembershipApplication.objects.exists()


def test_phone_of_another_member_is_refused(sz, nanshan_pool):
    make_member(org=nanshan_pool, phone="13711112222")
    user = make_verified_user(phone="13711112222")

    with pytest.raises(ApplicationError) as exc:
        submit_application(user=user)

    assert exc.value.message == j.MSG_PHONE_IN_USE


def test_resubmit_from_pending_and_rejected_reuses_the_row(sz, rv_nanshan):
    user = make_verified_user()
    first = submit_application(user=user, name="王小明")
    second = submit_application(user=user, name="王晓明")
    assert second.pk == first.pk
    assert second.name == "王晓明"

    j.application_reject(
        application_id=first.pk, reviewer=rv_nanshan, reason="姓名有误"
    )
    third = submit_application(user=user, name="王明")

    assert third.pk == first.pk
    assert third.status == ApplicationStatus.PENDING
    assert third.reject_reason == ""
    assert MembershipApplication.objects.count() == 1
    assert list(
        MembershipEvent.objects.order_by("id").values_list("kind", flat=True)
    ) == ["submitted", "resubmitted", "rejected", "resubmitted"]


def test_approve_makes_an_active_member_with_a_number(sz, rv_nanshan):
    # given
    user = make_verified_user(phone="13722223333")
    application = submit_application(user=user, id_number="440305199003071236")
    # when
    member = j.application_approve(application_id=application.pk, reviewer=rv_nanshan)
    # then
    member.refresh_from_db()
    assert member.status == MemberStatus.ACTIVE
    assert member.user == user
    assert member.org == sz["440305_pool"]
    assert member.member_no == f"GH440305{date.today():%Y}{member.pk:08d}"
    assert member.id_number == "440305199003071236"
    assert member.phone == "13722223333"
    application.refresh_from_db()
    assert application.status == ApplicationStatus.APPROVED
    assert application.decided_by == rv_nanshan
    assert application.member == member
    assert MembershipEvent.objects.filter(kind="approved", member=member).count() == 1
    assert AuditLog.objects.filter(
        action="membership_application_approve", actor=rv_nanshan, member=member
    ).exists()
    approved = Notification.objects.filter(template_code="membership_approved")
    assert sorted(approved.values_list("channel", flat=True)) == ["inbox", "sms"]
    assert approved.first().params == {
        "member_no": member.member_no,
        "org_name": "南山区新业态联合工会",
        "joined_on": date.today().isoformat(),
    }


def test_no_resubmission_after_approval(sz, rv_nanshan):
    user = make_verified_user()
    application = submit_application(user=user)
    j.application_approve(application_id=application.pk, reviewer=rv_nanshan)

    with pytest.raises(ApplicationError) as exc:
        submit_application(user=user)

    assert exc.value.message == j.MSG_APPROVED_FINAL
    assert MembershipApplication.objects.get().status == ApplicationStatus.APPROVED


def test_second_approval_is_a_conflict(sz, rv_nanshan, rv_city):
    application = submit_application()
    j.application_approve(application_id=application.pk, reviewer=rv_nanshan)

    with pytest.raises(ConflictError):
        j.application_approve(application_id=application.pk, reviewer=rv_city)

    assert Member.objects.count() == 1
    assert MembershipEvent.objects.filter(kind="approved").count() == 1


def test_reviewer_of_another_district_cannot_decide(sz, rv_futian):
    application = submit_application(residence_county="440305")

    with pytest.raises(ApplicationError) as exc:
        j.application_approve(application_id=application.pk, reviewer=rv_futian)

    assert exc.value.message == j.MSG_NOT_REVIEWER
    application.refresh_from_db()
    assert application.status == ApplicationStatus.PENDING
    assert not Member.objects.exists()


def test_reject_needs_a_reason(sz, rv_nanshan):
    application = submit_application()

    with pytest.raises(ApplicationError) as exc:
        j.application_reject(
            application_id=application.pk, reviewer=rv_nanshan, reason=" "
        )

    assert exc.value.message == j.MSG_REASON_REQUIRED
    application.refresh_from_db()
    assert application.status == ApplicationStatus.PENDING
    assert not Notification.objects.filter(template_code="membership_rejected").exists()


def test_reject_notifies_with_the_reason(sz, rv_nanshan):
    application = submit_application()

    j.application_reject(
        application_id=application.pk, reviewer=rv_nanshan, reason="照片不清"
    )

    notice = Notification.objects.get(
        template_code="membership_rejected", channel="sms"
    )
    assert notice.params == {
        "application_id": application.pk,
        "org_name": "南山区新业态联合工会",
        "reason": "照片不清",
    }


def test_withdrawing_consent_stops_review(sz):
    user = make_verified_user()
    application = submit_application(user=user)
    consent = ConsentRecord.objects.get(user=user)

    j.consent_withdraw(user=user, consent=consent)

    consent.refresh_from_db()
    application.refresh_from_db()
    assert consent.withdrawn_at is not None
    assert application.status == ApplicationStatus.DRAFT


def test_a_number_typed_into_the_reject_reason_is_kept_masked(sz, rv_nanshan):
    application = submit_application()

    j.application_reject(
        application_id=application.pk,
        reviewer=rv_nanshan,
        reason="身份证号440305199003071236与照片不符，请致电138 1234 5678",
    )

    application.refresh_from_db()
    assert application.reject_reason == (
        "身份证号4****************6与照片不符，请致电138****5678"
    )
    notice = Notification.objects.get(
        template_code="membership_rejected", channel="sms"
    )
    assert "440305199003071236" not in notice.params["reason"]
    event = application.events.get(kind="rejected")
    assert "1234 5678" not in event.note
