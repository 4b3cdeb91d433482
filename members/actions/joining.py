"""Joining (入会): submit, approve, reject; consents (domain.md §5, §8)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from members.actions.notifications import notification_enqueue
from members.audit import audit_record
from members.models import (
    ApplicationStatus,
    ConsentPurpose,
    ConsentRecord,
    Member,
    MembershipApplication,
    MembershipEvent,
    MembershipEventKind,
    MemberStatus,
    NotificationChannel,
    Platform,
    UnionOrg,
    User,
)
from members.models.people import ID_NUMBER_INDEX, PHONE_INDEX
from members.selectors.joining import default_org_for_residence
from members.validators import check_age, normalize_name, parse_id_number
from portal.crypto import blind_index
from portal.exceptions import ApplicationError, ConflictError
from portal.masking import mask_text

# gettext_noop: plain str here (tests compare them); views translate them on display.
MSG_PHONE_NOT_VERIFIED = gettext_noop("请先用短信验证码验证手机号。")
MSG_ALREADY_MEMBER = gettext_noop("该身份证号已是工会会员,无需重复申请。")
MSG_PENDING_EXISTS = gettext_noop("该身份证号已有待审核的入会申请,请勿重复提交。")
MSG_APPROVED_FINAL = gettext_noop("你的入会申请已通过,不能再次提交。")
MSG_PHONE_IN_USE = gettext_noop(
    "该手机号已被其他会员使用。如需解除,请联系所在区总工会。"
)
MSG_ACCOUNT_IN_USE = gettext_noop("该账号已绑定其他会员身份,请联系所在区总工会。")
MSG_NO_ORG = gettext_noop("未找到常住地对应的新业态联合工会,请选择要加入的工会。")
MSG_ORG_CLOSED = gettext_noop("所选工会组织暂不受理入会申请。")
MSG_CONSENT_REQUIRED = gettext_noop("请阅读并单独同意处理敏感个人信息的告知内容。")
MSG_NOT_PENDING = "该申请不是待审核状态,可能已被其他审核人处理。"
MSG_NOT_REVIEWER = "只有所选工会或其上级工会的审核人员可以审核该申请。"
MSG_REASON_REQUIRED = "请填写不通过的原因(200字以内)。"
MSG_COUNTY = gettext_noop("行政区划代码应为6位数字。")

JOIN_AGE_LOW = 16
JOIN_AGE_HIGH = 70
ACTIVE_STATES = (MemberStatus.ACTIVE, MemberStatus.RETAINED)


def _today() -> date:
    return timezone.localdate()


def _check_county(code: str) -> str:
    code = (code or "").strip()
    if len(code) != 6 or not code.isdigit():
        raise ApplicationError(MSG_COUNTY, code="invalid_county")
    return code


@transaction.atomic
def application_submit(
    *,
    user: User,
    name: str,
    id_number: str,
    occupation: str,
    employment_category: str,
    hukou_county: str,
    residence_county: str,
    platforms: Iterable[Platform] = (),
    org: UnionOrg | None = None,
    consent_notice_version: str,
    consent_channel: str = "web",
) -> MembershipApplication:
    """Submit (or resubmit) the account's application to join (BR-M1..M3).

    The phone is the account's SMS-verified number. An ID that is already an
    active member is refused; a second pending application for the same ID is
    refused by the partial unique constraint, which also settles races.
    """
    if not user.phone or user.phone_verified_at is None:
        raise ApplicationError(MSG_PHONE_NOT_VERIFIED, code="phone_not_verified")
    if not consent_notice_version:
        raise ApplicationError(MSG_CONSENT_REQUIRED, code="consent_required")
    info = parse_id_number(id_number, today=_today())
    check_age(info, low=JOIN_AGE_LOW, high=JOIN_AGE_HIGH, today=_today())
    name = normalize_name(name)
    hukou_county = _check_county(hukou_county)
    residence_county = _check_county(residence_county)
    org = org or default_org_for_residence(county_code=residence_county)
    if org is None:
        raise ApplicationError(MSG_NO_ORG, code="no_org")
    if not org.is_active:
        raise ApplicationError(MSG_ORG_CLOSED, code="org_closed")

    application = (
        MembershipApplication.objects.select_for_update()
        .filter(user=user)
        .order_by("-created_at")
        .first()
    )
    if application is not None and application.status == ApplicationStatus.APPROVED:
        raise ApplicationError(MSG_APPROVED_FINAL, code="already_approved")
    id_hmac = blind_index(info.number, purpose=ID_NUMBER_INDEX)
    phone_hmac = blind_index(user.phone, purpose=PHONE_INDEX)
    if Member.objects.filter(id_number_hmac=id_hmac, status__in=ACTIVE_STATES).exists():
        raise ApplicationError(MSG_ALREADY_MEMBER, code="already_member")
    if (
        Member.objects.filter(phone_hmac=phone_hmac)
        .exclude(id_number_hmac=id_hmac)
        .exists()
    ):
        raise ApplicationError(MSG_PHONE_IN_USE, code="phone_in_use")

    if application is None:
        application = MembershipApplication(user=user)
        kind = MembershipEventKind.SUBMITTED
    else:
        kind = (
            MembershipEventKind.SUBMITTED
            if application.status == ApplicationStatus.DRAFT
            else MembershipEventKind.RESUBMITTED
        )
    previous_status = application.status if application.pk else ""
    application.name = name
    application.set_id_number(info.number)
    application.set_phone(user.phone)
    application.birth_date = info.birth_date
    application.gender = info.gender
    application.occupation = occupation
    application.employment_category = employment_category
    application.hukou_county = hukou_county
    application.residence_county = residence_county
    application.org = org
    application.status = ApplicationStatus.PENDING
    application.reject_reason = ""
    application.decided_at = None
    application.decided_by = None
    application.submitted_at = timezone.now()
    application.full_clean(
        exclude=["id_number_hmac", "phone_hmac"], validate_constraints=False
    )
    try:
        with transaction.atomic():
            application.save()
    except IntegrityError as exc:
        raise ApplicationError(MSG_PENDING_EXISTS, code="pending_exists") from exc
    application.platforms.set(list(platforms))

    ConsentRecord.objects.create(
        user=user,
        org=org,
        purpose=ConsentPurpose.SENSITIVE_PI_JOIN,
        notice_version=consent_notice_version,
        channel=consent_channel,
        granted_at=timezone.now(),
    )
    MembershipEvent.objects.create(
        user=user,
        application=application,
        org=org,
        kind=kind,
        from_status=previous_status,
        to_status=ApplicationStatus.PENDING,
        actor=user,
    )
    audit_record(
        action="membership_application_submit",
        actor=user,
        object_type="membership_application",
        object_id=application.pk,
        detail={"org_id": org.pk, "resubmit": kind == MembershipEventKind.RESUBMITTED},
    )
    notification_enqueue(
        template_code="membership_application_received",
        dedupe_key=(
            f"membership_application_received:{application.pk}:"
            f"{application.submitted_at.timestamp():.0f}"
        ),
        user=user,
        params={"application_id": application.pk, "org_name": org.name},
    )
    return application


def _check_reviewer(*, reviewer: User, application: MembershipApplication) -> None:
    """Approval only by staff of the chosen org or an org above it (domain.md §8)."""
    if reviewer.is_superuser:
        return
    allowed = (
        reviewer.is_active
        and reviewer.is_staff
        and reviewer.org_id is not None
        and reviewer.has_perm("members.change_membershipapplication")
        and application.org.path.startswith(reviewer.org.path)
    )
    if not allowed:
        raise ApplicationError(MSG_NOT_REVIEWER, code="not_reviewer")


def _claim(
    *, application_id: int, reviewer: User, to_status: str, reason: str = ""
) -> MembershipApplication:
    """Move pending → approved/rejected with a conditional UPDATE: of two
    reviewers deciding at once, exactly one changes the row; the other gets a
    ConflictError."""
    application = MembershipApplication.objects.select_related("org", "user").get(
        pk=application_id
    )
    _check_reviewer(reviewer=reviewer, application=application)
    now = timezone.now()
    claimed = MembershipApplication.objects.filter(
        pk=application_id, status=ApplicationStatus.PENDING
    ).update(
        status=to_status, decided_at=now, decided_by=reviewer, reject_reason=reason
    )
    if claimed != 1:
        raise ConflictError(MSG_NOT_PENDING, code="not_pending")
    application.refresh_from_db()
    return application


def _member_no(*, member: Member, org: UnionOrg, day: date) -> str:
    # "GH" + region (6) + year (4) + member id (8), 20 characters: unique because
    # the id is. The letters keep it from ever looking like an 18-digit ID
    # number to people or to leak scanners (about 1 in 11 all-digit numbers of
    # this shape would pass the GB 11643 check).
    return f"GH{org.region_code}{day:%Y}{member.pk:08d}"


@transaction.atomic
def application_approve(*, application_id: int, reviewer: User) -> Member:
    """Approve: the person becomes an active member with a member number."""
    application = _claim(
        application_id=application_id,
        reviewer=reviewer,
        to_status=ApplicationStatus.APPROVED,
    )
    today = _today()
    member = (
        Member.objects.select_for_update()
        .filter(id_number_hmac=application.id_number_hmac)
        .first()
    )
    previous_status = member.status if member else ""
    if member is not None and member.status in ACTIVE_STATES:
        raise ConflictError(MSG_ALREADY_MEMBER, code="already_member")
    if member is None:
        member = Member(status=MemberStatus.APPLICANT)
        member.set_id_number(application.id_number)
    member.user = application.user
    member.name = application.name
    member.birth_date = application.birth_date
    member.gender = application.gender
    member.set_phone(application.phone)
    member.occupation = application.occupation
    member.employment_category = application.employment_category
    member.hukou_county = application.hukou_county
    member.residence_county = application.residence_county
    member.org = application.org
    try:
        with transaction.atomic():
            if member.pk is None:
                member.save()
            member.status = MemberStatus.ACTIVE
            member.joined_on = today
            member.member_no = member.member_no or _member_no(
                member=member, org=application.org, day=today
            )
            member.save()
    except IntegrityError as exc:
        if (
            Member.objects.filter(phone_hmac=member.phone_hmac)
            .exclude(pk=member.pk)
            .exists()
        ):
            raise ApplicationError(MSG_PHONE_IN_USE, code="phone_in_use") from exc
        raise ApplicationError(MSG_ACCOUNT_IN_USE, code="account_in_use") from exc
    application.member = member
    application.save(update_fields=["member", "updated_at"])
    MembershipEvent.objects.create(
        user=application.user,
        member=member,
        application=application,
        org=application.org,
        kind=MembershipEventKind.APPROVED,
        from_status=previous_status or MemberStatus.APPLICANT,
        to_status=MemberStatus.ACTIVE,
        note=f"会员证号 {member.member_no}",
        actor=reviewer,
    )
    audit_record(
        action="membership_application_approve",
        actor=reviewer,
        member=member,
        object_type="membership_application",
        object_id=application.pk,
        detail={"member_no": member.member_no, "org_id": application.org_id},
    )
    params = {
        "member_no": member.member_no,
        "org_name": application.org.name,
        "joined_on": today.isoformat(),
    }
    for channel in (NotificationChannel.INBOX, NotificationChannel.SMS):
        notification_enqueue(
            template_code="membership_approved",
            dedupe_key=f"membership_approved:{application.pk}:{channel}",
            channel=channel,
            user=application.user,
            member=member,
            params=params,
        )
    return member


@transaction.atomic
def application_reject(
    *, application_id: int, reviewer: User, reason: str
) -> MembershipApplication:
    """Reject with a reason the applicant sees; they may correct and resubmit."""
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        raise ApplicationError(MSG_REASON_REQUIRED, code="reason_required")
    # The reason is shown to the worker and kept in the history: an ID number or
    # mobile typed into it is stored masked (PIPL minimisation, security.md §3).
    reason = mask_text(reason)
    application = _claim(
        application_id=application_id,
        reviewer=reviewer,
        to_status=ApplicationStatus.REJECTED,
        reason=reason,
    )
    MembershipEvent.objects.create(
        user=application.user,
        application=application,
        org=application.org,
        kind=MembershipEventKind.REJECTED,
        from_status=ApplicationStatus.PENDING,
        to_status=ApplicationStatus.REJECTED,
        note=reason,
        actor=reviewer,
    )
    audit_record(
        action="membership_application_reject",
        actor=reviewer,
        object_type="membership_application",
        object_id=application.pk,
        reason=reason,
    )
    stamp = f"{application.decided_at.timestamp():.0f}"
    for channel in (NotificationChannel.INBOX, NotificationChannel.SMS):
        notification_enqueue(
            template_code="membership_rejected",
            dedupe_key=f"membership_rejected:{application.pk}:{stamp}:{channel}",
            channel=channel,
            user=application.user,
            params={
                "application_id": application.pk,
                "org_name": application.org.name,
                "reason": reason,
            },
        )
    return application


@transaction.atomic
def consent_withdraw(*, user: User, consent: ConsentRecord) -> ConsentRecord:
    """Withdrawing is as easy as consenting (PIPL art. 15). A pending application
    that relied on the consent goes back to draft, so reviewers stop processing
    it; an existing membership stays."""
    if consent.user_id != user.pk:
        raise ApplicationError("无权操作该记录。", code="not_owner")
    if consent.withdrawn_at is not None:
        return consent
    consent.withdrawn_at = timezone.now()
    consent.save(update_fields=["withdrawn_at"])
    withdrawn = MembershipApplication.objects.filter(
        user=user, status=ApplicationStatus.PENDING
    ).update(status=ApplicationStatus.DRAFT)
    audit_record(
        action="consent_withdraw",
        actor=user,
        object_type="consent",
        object_id=consent.pk,
        detail={"purpose": consent.purpose, "applications_to_draft": withdrawn},
    )
    return consent
