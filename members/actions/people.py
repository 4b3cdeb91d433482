"""Member personal data: reveal (audited), export (PIPL access right), and
rights / withdrawal requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from members.actions.cases import case_assignment_active
from members.actions.notifications import choice_label, notification_enqueue
from members.actions.retention import applications_delete, members_anonymise
from members.audit import audit_record
from members.exports import export_sections
from members.mfa import user_otp_verified
from members.models import (
    EX_MEMBER_STATUSES,
    AuditLog,
    DataRequest,
    DataRequestKind,
    DataRequestStatus,
    Member,
    MembershipApplication,
    MembershipEvent,
    MembershipEventKind,
    MemberStatus,
    Notification,
    User,
)
from members.selectors.joining import (
    application_get_for_user,
    consents_for_user,
    data_requests_for_user,
    membership_events_for_user,
)
from portal.exceptions import ApplicationError, ConflictError
from portal.masking import mask_text

REVEALABLE_FIELDS = {"id_number": "身份证号", "phone": "手机号"}
MSG_REVEAL_REASON = "请填写查看完整信息的事由(2至200字)。"
MSG_REVEAL_FIELD = "不支持查看该字段。"
# gettext_noop: plain str here (tests compare them); views translate them on display.
MSG_REQUEST_OPEN = gettext_noop("你已有一个待处理的同类申请,请等待工作人员处理。")
MSG_REQUEST_NOT_OPEN = gettext_noop("该申请已处理。")
MSG_REQUEST_SCOPE = "该申请不属于你所在组织的处理范围。"
MSG_REFUSE_REASON = "不予办理时请填写理由。"


def member_sensitive_reveal(
    *, actor: User, member: Member, field: str, reason: str
) -> str:
    """Return one full value for a staff user with `members.view_sensitive` whose
    subtree holds the member **and** who is assigned to the member's case (an
    active CaseAssignment; security.md AC5; superusers need one too), in a
    session that passed the TOTP step (AU4: `actor` is the request's user,
    carrying `is_verified()`). Every call writes an audit row, a denied one
    included (`detail.reason = "not_assigned"` without an assignment); the
    caller answers 403 on PermissionDenied."""
    reason = (reason or "").strip()
    if field not in REVEALABLE_FIELDS:
        raise ApplicationError(MSG_REVEAL_FIELD, code="invalid_field")
    if not 2 <= len(reason) <= 200:
        raise ApplicationError(MSG_REVEAL_REASON, code="reason_required")
    in_scope = actor.is_superuser or (
        actor.is_staff
        and actor.org_id is not None
        and member.org.path.startswith(actor.org.path)
    )
    otp_verified = user_otp_verified(actor)
    assigned = case_assignment_active(staff=actor, member=member)
    allowed = (
        in_scope
        and actor.has_perm("members.view_sensitive")
        and otp_verified
        and assigned
    )
    detail: dict[str, Any] = {}
    if not otp_verified:
        detail["otp_verified"] = False
    if not assigned:
        detail["reason"] = "not_assigned"
    # Every attempt is audited, the denied ones included (security.md LG1, AC5).
    audit_record(
        action="member_reveal",
        actor=actor,
        member=member,
        object_type="member",
        object_id=member.pk,
        field=field,
        reason=reason,
        outcome=AuditLog.Outcome.SUCCESS if allowed else AuditLog.Outcome.DENIED,
        detail=detail,
    )
    if not allowed:
        raise PermissionDenied("没有查看完整个人信息的权限。")
    return str(getattr(member, field))


# The export is the worker's own copy: times in the worker's clock (Beijing
# time, +08:00), not the UTC they are stored in.
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _dt(value: Any) -> str | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).isoformat()
    return value.isoformat()  # a date


@transaction.atomic
def personal_data_export(*, user: User) -> dict[str, Any]:
    """Everything the portal holds about the account's own person, in full
    (PIPL art. 45: the person's own copy). Writes an audit row."""
    member = Member.objects.select_related("org").filter(user=user).first()
    application = application_get_for_user(user=user)
    data: dict[str, Any] = {
        "exported_at": _dt(timezone.now()),
        "account": {
            "username": user.username,
            "phone": user.phone,
            "phone_verified_at": _dt(user.phone_verified_at),
            "date_joined": _dt(user.date_joined),
            "last_login": _dt(user.last_login),
        },
        "member": None,
        "applications": [],
        "platforms": [],
        "consents": [
            {
                "purpose": c.purpose,
                "notice_version": c.notice_version,
                "channel": c.channel,
                "granted_at": _dt(c.granted_at),
                "withdrawn_at": _dt(c.withdrawn_at),
            }
            for c in consents_for_user(user=user)
        ],
        "membership_history": [
            {
                "time": _dt(e.created_at),
                "event": e.kind,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "org": e.org.name,
                "note": e.note,
            }
            for e in membership_events_for_user(user=user)
        ],
        "data_requests": [
            {
                "kind": r.kind,
                "status": r.status,
                "note": r.note,
                "response": r.response,
                "created_at": _dt(r.created_at),
                "processed_at": _dt(r.processed_at),
            }
            for r in data_requests_for_user(user=user)
        ],
        "notifications": [
            {
                "template": n.template_code,
                "channel": n.channel,
                "params": n.params,
                "created_at": _dt(n.created_at),
                "sent_at": _dt(n.sent_at),
            }
            for n in Notification.objects.filter(user=user)
        ],
    }
    if member is not None:
        data["member"] = {
            "name": member.name,
            "id_number": member.id_number,
            "birth_date": member.birth_date.isoformat(),
            "gender": member.gender,
            "phone": member.phone,
            "occupation": member.occupation,
            "employment_category": member.employment_category,
            "hukou_county": member.hukou_county,
            "residence_county": member.residence_county,
            "org": member.org.name,
            "status": member.status,
            "member_no": member.member_no,
            "joined_on": member.joined_on.isoformat() if member.joined_on else None,
        }
        data["platforms"] = [
            {
                "platform": link.platform.name,
                "platform_rider_id": link.platform_rider_id,
                "joined_platform_on": _dt(link.joined_platform_on),
                "offboarded_on": _dt(link.offboarded_on),
                "consent_ref": link.consent_ref,
                "consented_at": _dt(link.consented_at),
            }
            for link in member.platform_links.select_related("platform")
        ]
    if application is not None:
        data["applications"].append(
            {
                "name": application.name,
                "id_number": application.id_number,
                "phone": application.phone,
                "occupation": application.occupation,
                "platforms": [p.name for p in application.platforms.all()],
                "employment_category": application.employment_category,
                "hukou_county": application.hukou_county,
                "residence_county": application.residence_county,
                "org": application.org.name,
                "status": application.status,
                "submitted_at": _dt(application.submitted_at),
                "decided_at": _dt(application.decided_at),
                "reject_reason": application.reject_reason,
            }
        )
    data.update(export_sections(user=user, member=member))
    audit_record(
        action="personal_data_export",
        actor=user,
        member=member,
        object_type="user",
        object_id=user.pk,
    )
    return data


@transaction.atomic
def data_request_create(*, user: User, kind: str, note: str = "") -> DataRequest:
    """A worker asks for deletion, a copy, an explanation of an automated
    decision (PIPL art. 24), or to leave the union. One open request per kind
    (a partial unique constraint)."""
    member = Member.objects.select_related("org").filter(user=user).first()
    application = application_get_for_user(user=user)
    org = member.org if member else (application.org if application else None)
    request = DataRequest(
        user=user,
        member=member,
        org=org,
        kind=kind,
        note=mask_text((note or "").strip()),
    )
    request.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            request.save()
    except IntegrityError as exc:
        raise ApplicationError(MSG_REQUEST_OPEN, code="request_open") from exc
    audit_record(
        action="data_request_create",
        actor=user,
        member=member,
        object_type="data_request",
        object_id=request.pk,
        detail={"kind": kind},
    )
    notification_enqueue(
        template_code="data_request_received",
        dedupe_key=f"data_request_received:{request.pk}",
        user=user,
        params={"request_id": request.pk, "kind": choice_label(DataRequestKind, kind)},
    )
    return request


@transaction.atomic
def data_request_process(
    *, request_id: int, staff: User, status: str, response: str = ""
) -> DataRequest:
    """Staff close a request as done or refused (with a reason). A done
    withdrawal ends the membership; a done deletion erases the account's
    unapproved applications. Claimed with a conditional UPDATE, so two staff
    processing at once act once."""
    response = mask_text((response or "").strip())[:500]
    if status not in (DataRequestStatus.DONE, DataRequestStatus.REFUSED):
        raise ApplicationError("无效的处理结果。", code="invalid_status")
    if status == DataRequestStatus.REFUSED and not response:
        raise ApplicationError(MSG_REFUSE_REASON, code="reason_required")
    request = DataRequest.objects.select_related("org", "member", "user").get(
        pk=request_id
    )
    in_scope = staff.is_superuser or (
        staff.is_staff
        and staff.org_id is not None
        and request.org is not None
        and request.org.path.startswith(staff.org.path)
    )
    if not in_scope:
        raise ApplicationError(MSG_REQUEST_SCOPE, code="not_in_scope")
    claimed = DataRequest.objects.filter(
        pk=request_id, status=DataRequestStatus.OPEN
    ).update(
        status=status,
        response=response,
        processed_at=timezone.now(),
        processed_by=staff,
    )
    if claimed != 1:
        raise ConflictError(MSG_REQUEST_NOT_OPEN, code="not_open")
    request.refresh_from_db()
    done = status == DataRequestStatus.DONE
    member = request.member
    if done and request.kind == DataRequestKind.WITHDRAWAL and member is not None:
        previous = member.status
        Member.objects.filter(pk=member.pk).update(
            status=MemberStatus.WITHDRAWN, left_at=timezone.now()
        )
        MembershipEvent.objects.create(
            user=request.user,
            member=member,
            org=member.org,
            kind=MembershipEventKind.STATUS_CHANGED,
            from_status=previous,
            to_status=MemberStatus.WITHDRAWN,
            note="本人申请退会",
            actor=staff,
        )
    if done and request.kind == DataRequestKind.DELETION:
        # The retention job's erasure paths (PI8), with their audit rows: the
        # account's unapproved applications go; an ex-member is anonymised now
        # instead of after RETENTION_EX_MEMBER_DAYS. A current membership stays.
        applications_delete(
            ids=list(
                MembershipApplication.objects.filter(
                    user=request.user, member=None
                ).values_list("pk", flat=True)
            ),
            reason=f"本人申请删除(申请编号 {request.pk})",
        )
        if member is not None and member.status in EX_MEMBER_STATUSES:
            members_anonymise(
                ids=[member.pk],
                reason=f"本人申请删除(申请编号 {request.pk})",
                now=timezone.now(),
            )
    audit_record(
        action="data_request_process",
        actor=staff,
        member=member,
        object_type="data_request",
        object_id=request.pk,
        reason=response,
        detail={"kind": request.kind, "status": status},
    )
    notification_enqueue(
        template_code="data_request_processed",
        dedupe_key=f"data_request_processed:{request.pk}",
        user=request.user,
        params={
            "request_id": request.pk,
            "kind": choice_label(DataRequestKind, request.kind),
            "status": choice_label(DataRequestStatus, status),
            "response": response,
        },
    )
    return request
