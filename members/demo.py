"""Demo data for the members app (called by `manage.py seed_demo`)."""

from __future__ import annotations

import secrets
from datetime import date

from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from members.models import User

REVIEWER_GROUP = "审核员"
AUDITOR_GROUP = "审计员"
REVIEWER_PERMS = (
    "view_membershipapplication",
    "change_membershipapplication",
    "view_member",
    "change_member",
    "view_platformrider",
    "view_consentrecord",
    "view_membershipevent",
    "view_datarequest",
    "change_datarequest",
    "view_unionorg",
    "view_regioncode",
)
DEMO_WORKER_PHONE = "13800138000"
DEMO_APPLICANT_PHONE = "13800138001"


def new_password() -> str:
    return secrets.token_urlsafe(12)


def ensure_groups() -> tuple[Group, Group]:
    """The reviewer and auditor roles (security.md AC8: separate duties)."""
    reviewers, _ = Group.objects.get_or_create(name=REVIEWER_GROUP)
    reviewers.permissions.set(
        Permission.objects.filter(
            content_type__app_label="members", codename__in=REVIEWER_PERMS
        )
    )
    auditors, _ = Group.objects.get_or_create(name=AUDITOR_GROUP)
    auditors.permissions.set(
        Permission.objects.filter(
            content_type__app_label="members",
            codename__in=("view_auditlog", "view_auditlog_all"),
        )
    )
    return reviewers, auditors


def demo_totp_secret(user: User) -> str:
    """Give a demo staff member a confirmed TOTP device (kept across runs, so an
    authenticator app set up once keeps working) and return its base32 secret.
    Staff need a code at every login (security.md AU4); `manage.py demo_totp
    <username>` prints the current one in development."""
    from base64 import b32encode

    from members.models import StaffTotpDevice

    device = StaffTotpDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = StaffTotpDevice.objects.create(
            user=user, name="演示验证器", confirmed=True
        )
    return b32encode(device.bin_key).decode("ascii")


def _staff(username: str, *, org, groups=(), perms=()) -> tuple[User, str]:
    user, _ = User.objects.get_or_create(username=username)
    password = new_password()
    user.set_password(password)
    user.is_staff = True
    user.is_superuser = False
    user.org = org
    user.save()
    user.groups.set(groups)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="members", codename__in=perms)
    )
    demo_totp_secret(user)
    return user, password


def _worker(phone: str) -> tuple[User, str]:
    from members.models.accounts import PHONE_INDEX
    from portal.crypto import blind_index

    user = User.objects.filter(
        phone_hmac=blind_index(phone, purpose=PHONE_INDEX)
    ).first()
    if user is None:
        user = User(username=f"w{secrets.token_hex(8)}")
        user.set_phone(phone)
    password = new_password()
    user.set_password(password)
    user.phone_verified_at = user.phone_verified_at or timezone.now()
    user.save()
    return user, password


def _demo_id(region: str, born: date, seq: int) -> str:
    from members.validators import id_check_char

    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


def seed_members(*, stdout, assigner: User | None = None) -> list:
    """Reviewers, the auditor, a member and an applicant. With `assigner` (a
    user holding `members.assign_case`), the city reviewer is assigned to the
    demo member's case, so its reveal works (security.md AC5)."""
    from members.actions.cases import case_assign, case_assignment_active
    from members.actions.joining import application_approve, application_submit
    from members.management.commands.seed_demo import DemoLogin
    from members.models import (
        EmploymentCategory,
        Member,
        MembershipApplication,
        Occupation,
        UnionOrg,
    )
    from members.notices import SENSITIVE_PI_JOIN_NOTICE_VERSION
    from members.reference_data import SHENZHEN_DISTRICTS, seed_all, seed_union_tree

    seed_all()
    orgs = seed_union_tree(UnionOrg=UnionOrg)
    reviewers, auditors = ensure_groups()
    logins = []
    for code, _district, short in SHENZHEN_DISTRICTS:
        username = f"reviewer_{code}"
        _, password = _staff(username, org=orgs[code], groups=[reviewers])
        logins.append(DemoLogin(f"{short}区审核员", username, password, "/admin/"))
    city_reviewer, password = _staff(
        "reviewer_city",
        org=orgs["city"],
        groups=[reviewers],
        perms=("view_sensitive",),
    )
    logins.append(
        DemoLogin("市总审核员(可查看完整信息)", "reviewer_city", password, "/admin/")
    )
    _, password = _staff("auditor", org=orgs["city"], groups=[auditors])
    logins.append(DemoLogin("审计员(只读审计日志)", "auditor", password, "/admin/"))

    # A worker with an active membership in Nanshan's gig-worker union.
    worker, password = _worker(DEMO_WORKER_PHONE)
    if not MembershipApplication.objects.filter(user=worker).exists():
        application = application_submit(
            user=worker,
            name="张三丰",
            id_number=_demo_id("440305", date(1990, 3, 7), 123),
            occupation=Occupation.FOOD_DELIVERY,
            employment_category=EmploymentCategory.WRITTEN_AGREEMENT,
            hukou_county="440305",
            residence_county="440305",
            consent_notice_version=SENSITIVE_PI_JOIN_NOTICE_VERSION,
        )
        application_approve(application_id=application.pk, reviewer=city_reviewer)
    member = Member.objects.filter(user=worker).first()
    if (
        assigner is not None
        and member is not None
        and not case_assignment_active(staff=city_reviewer, member=member)
    ):
        case_assign(
            actor=assigner, staff=city_reviewer, member=member, reason="演示数据"
        )
    logins.append(DemoLogin("会员(南山,外卖员)", DEMO_WORKER_PHONE, password, "/me/"))

    # A pending applicant in Futian, waiting for the Futian reviewer.
    applicant, password = _worker(DEMO_APPLICANT_PHONE)
    if not MembershipApplication.objects.filter(user=applicant).exists():
        application_submit(
            user=applicant,
            name="李四",
            id_number=_demo_id("440304", date(1995, 6, 1), 246),
            occupation=Occupation.COURIER,
            employment_category=EmploymentCategory.SELF_EMPLOYED,
            hukou_county="440304",
            residence_county="440304",
            consent_notice_version=SENSITIVE_PI_JOIN_NOTICE_VERSION,
        )
    logins.append(
        DemoLogin("入会申请人(福田,待审核)", DEMO_APPLICANT_PHONE, password, "/me/")
    )
    return logins


def seed(*, stdout) -> list:
    from members.management.commands.seed_demo import DemoLogin

    logins = []
    admin, _ = User.objects.get_or_create(
        username="demo_admin", defaults={"is_staff": True, "is_superuser": True}
    )
    password = new_password()
    admin.set_password(password)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    demo_totp_secret(admin)
    logins.append(
        DemoLogin("系统管理员 (superuser)", "demo_admin", password, "/admin/")
    )
    logins.extend(seed_members(stdout=stdout, assigner=admin))
    seed_notifications(user=admin)
    logins.append(
        DemoLogin("站内信 (demo_admin)", "demo_admin", password, "/messages/")
    )
    return logins


def seed_notifications(*, user: User) -> None:
    """Two inbox notices for the demo admin, delivered through the dispatcher
    (eager without Redis), so /messages/ and the header count have content."""
    from members.actions.notifications import (
        notification_enqueue,
        notifications_dispatch,
    )

    notices = [
        (
            "welcome",
            {"title": "欢迎使用工会会员服务门户", "body": "这里会显示系统消息和提醒。"},
        ),
        (
            "schedules",
            {"title": "定时任务已就绪", "body": "提醒与通知由每分钟运行的调度发送。"},
        ),
    ]
    for key, params in notices:
        notification_enqueue(
            template_code="notice_generic",
            dedupe_key=f"demo:{key}:{user.pk}",
            user=user,
            params=params,
        )
    notifications_dispatch()
