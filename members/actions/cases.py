"""Case assignment (security.md AC5): a supervisor with `members.assign_case`
assigns a staff member who has `members.view_sensitive` to a member's case;
only an assigned reviewer may reveal that member's full values
(`member_sensitive_reveal`). Every assignment and unassignment is audited."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from members.audit import audit_record
from members.models import CaseAssignment, Member, User
from portal.exceptions import ApplicationError, ConflictError
from portal.masking import mask_text

ASSIGN_PERM = "members.assign_case"
MSG_ASSIGN_SELF = "不能把个案分配给自己,请由上级分配。"
MSG_ASSIGN_STAFF = "只能分配给本组织范围内、有查看完整信息权限的在职工作人员。"
MSG_ASSIGN_MEMBER_SCOPE = "该会员不在被分配人所在组织的范围内。"
MSG_ASSIGN_SCOPE = "该会员不属于你所在组织的范围。"
MSG_ASSIGN_EXISTS = "该工作人员已被分配此会员的个案。"
MSG_ASSIGN_REASON = "事由不超过200字。"
MSG_UNASSIGN_ENDED = "该分配已结束。"


def _in_subtree(user: User, org) -> bool:
    """True when `org` lies in the staff user's union subtree (superusers: all)."""
    if user.is_superuser:
        return True
    return bool(
        user.is_staff
        and user.org_id is not None
        and org is not None
        and org.path.startswith(user.org.path)
    )


def assignable_staff(*, actor: User) -> QuerySet[User]:
    """Active staff in the actor's subtree who hold `members.view_sensitive`
    (directly, through a group, or as superuser); never the actor itself unless
    the actor is a superuser (a reviewer does not assign their own cases)."""
    perm = Permission.objects.filter(
        content_type__app_label="members", codename="view_sensitive"
    ).first()
    holds = Q(is_superuser=True)
    if perm is not None:
        holds |= Q(user_permissions=perm) | Q(groups__permissions=perm)
    qs = User.objects.filter(holds, is_active=True, is_staff=True)
    if not actor.is_superuser:
        if actor.org_id is None:
            return qs.none()
        qs = qs.filter(org__path__startswith=actor.org.path).exclude(pk=actor.pk)
    # The filter over two to-many relations can repeat a user; pk__in keeps the
    # queryset usable for a ModelChoiceField without DISTINCT on every query.
    return User.objects.filter(pk__in=qs.values("pk")).order_by("username")


def case_assignment_active(*, staff: User, member: Member) -> bool:
    return CaseAssignment.objects.filter(
        staff=staff, member=member, ended_at__isnull=True
    ).exists()


def case_assign(
    *, actor: User, staff: User, member: Member, reason: str = ""
) -> CaseAssignment:
    """Assign `staff` to `member`'s case. The actor needs `members.assign_case`
    and the member in its subtree; `staff` must be active staff of the actor's
    subtree holding `members.view_sensitive`, with the member in its own
    subtree, and not the actor itself (unless the actor is a superuser). A
    second active assignment of the same pair is refused by the database
    (partial unique constraint) and answered with ConflictError."""
    if not actor.has_perm(ASSIGN_PERM):
        raise PermissionDenied
    reason = (reason or "").strip()
    if len(reason) > 200:
        raise ApplicationError(MSG_ASSIGN_REASON, code="reason_too_long")
    # Staff type reasons freely: an ID number or mobile in one is masked (LG2).
    reason = mask_text(reason)[:200]
    if not _in_subtree(actor, member.org):
        raise ApplicationError(MSG_ASSIGN_SCOPE, code="out_of_scope")
    if staff.pk == actor.pk and not actor.is_superuser:
        raise ApplicationError(MSG_ASSIGN_SELF, code="self_assignment")
    if not assignable_staff(actor=actor).filter(pk=staff.pk).exists():
        raise ApplicationError(MSG_ASSIGN_STAFF, code="staff_not_assignable")
    if not _in_subtree(staff, member.org):
        raise ApplicationError(MSG_ASSIGN_MEMBER_SCOPE, code="member_out_of_scope")
    try:
        with transaction.atomic():
            assignment = CaseAssignment.objects.create(
                staff=staff, member=member, assigned_by=actor, reason=reason
            )
            audit_record(
                action="case_assign",
                actor=actor,
                member=member,
                object_type="caseassignment",
                object_id=assignment.pk,
                reason=reason,
                detail={"staff_id": staff.pk},
            )
    except IntegrityError as exc:
        raise ConflictError(MSG_ASSIGN_EXISTS, code="already_assigned") from exc
    return assignment


@transaction.atomic
def case_unassign(*, actor: User, assignment_id: int, reason: str = "") -> None:
    """End one active assignment (the row stays, with `ended_at`/`ended_by`).
    The actor needs `members.assign_case` and the member in its subtree.
    Ending one's own assignment is allowed: it only narrows access."""
    if not actor.has_perm(ASSIGN_PERM):
        raise PermissionDenied
    reason = (reason or "").strip()
    if len(reason) > 200:
        raise ApplicationError(MSG_ASSIGN_REASON, code="reason_too_long")
    assignment = (
        CaseAssignment.objects.select_related("member__org")
        .select_for_update(of=("self",))
        .filter(pk=assignment_id)
        .first()
    )
    if assignment is None or not _in_subtree(actor, assignment.member.org):
        raise ApplicationError(MSG_ASSIGN_SCOPE, code="out_of_scope")
    if assignment.ended_at is not None:
        raise ConflictError(MSG_UNASSIGN_ENDED, code="already_ended")
    assignment.ended_at = timezone.now()
    assignment.ended_by = actor
    assignment.save(update_fields=["ended_at", "ended_by"])
    audit_record(
        action="case_unassign",
        actor=actor,
        member=assignment.member,
        object_type="caseassignment",
        object_id=assignment.pk,
        reason=reason,
        detail={"staff_id": assignment.staff_id},
    )
