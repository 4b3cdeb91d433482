"""Builders for test data: make_<thing>(**overrides). Area-specific builders live
next to their tests (tests/<area>/factories.py)."""

from __future__ import annotations

import itertools
from datetime import date

from members.actions.orgs import union_org_create
from members.models import (
    Member,
    MemberStatus,
    Occupation,
    OrgKind,
    OrgLevel,
    Platform,
    UnionOrg,
    User,
)
from members.validators import id_check_char

_seq = itertools.count(1)


def make_id_number(
    *, region: str = "440305", born: date = date(1990, 3, 7), male: bool = True
) -> str:
    """A valid 18-character ID number; each call gives a new sequence number."""
    n = next(_seq) % 500
    seq = f"{(2 * n + (1 if male else 0)) % 1000:03d}"
    first17 = f"{region}{born:%Y%m%d}{seq}"
    return first17 + id_check_char(first17)


def make_phone() -> str:
    return f"139{next(_seq):08d}"


def make_org(
    *,
    name: str | None = None,
    parent: UnionOrg | None = None,
    level: str = OrgLevel.DISTRICT,
    kind: str = OrgKind.FEDERATION,
    region_code: str = "440305",
    is_gig_pool: bool = False,
) -> UnionOrg:
    if parent is None and level != OrgLevel.NATIONAL:
        parent = make_root_org()
    return union_org_create(
        name=name or f"测试工会{next(_seq)}",
        level=level,
        kind=kind,
        region_code=region_code,
        parent=parent,
        is_gig_pool=is_gig_pool,
    )


def make_root_org() -> UnionOrg:
    root = UnionOrg.objects.filter(level=OrgLevel.NATIONAL).first()
    return root or union_org_create(
        name="中华全国总工会",
        level=OrgLevel.NATIONAL,
        kind=OrgKind.FEDERATION,
        region_code="100000",
    )


def make_user(
    *, username: str | None = None, phone: str | None = None, **extra
) -> User:
    user = User(username=username or f"user{next(_seq)}", **extra)
    if phone:
        user.set_phone(phone)
    user.set_password("correct horse battery staple")
    user.save()
    return user


def make_staff(*, org: UnionOrg, perms: tuple[str, ...] = (), **extra) -> User:
    from django.contrib.auth.models import Permission

    user = make_user(is_staff=True, org=org, **extra)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def make_totp_device(user: User, *, confirmed: bool = True):
    """A TOTP device for a staff member (confirmed: enrolment already done)."""
    from members.models import StaffTotpDevice

    return StaffTotpDevice.objects.create(
        user=user, name="测试验证器", confirmed=confirmed
    )


def totp_code(device, *, steps_ahead: int = 0) -> str:
    """The device's current 6-digit code, as an authenticator app would show it.
    A code is accepted once per 30-second step (django-otp's `last_t`), so a
    second login in the same step uses `steps_ahead=1` (tolerance is one step)."""
    from django_otp.oath import totp

    code = totp(
        device.bin_key,
        step=device.step,
        t0=device.t0 - steps_ahead * device.step,
        digits=device.digits,
        drift=device.drift,
    )
    return f"{code:0{device.digits}d}"


def login_staff(client, user: User):
    """Log a staff member in *with* a passed TOTP step (security.md AU4): the test
    client gets a session as if password and code had been entered. Use it for
    every test that is about what staff can do; use `client.force_login` for a
    staff session that stopped after the password (it reaches only the TOTP
    step). Returns the user's confirmed TOTP device (created if missing)."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from members.models import StaffTotpDevice

    device = StaffTotpDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = make_totp_device(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


def step_up(client) -> None:
    """Mark the client's (worker) session as having passed an SMS code just now,
    as the step-up page does (security.md AU4), so views behind
    `sms_step_up_required` answer directly. Call it after `force_login`."""
    import time

    from members.worker_mfa import STEP_UP_KEY

    session = client.session
    session[STEP_UP_KEY] = int(time.time())
    session.save()


def make_member(
    *,
    org: UnionOrg | None = None,
    user: User | None = None,
    name: str = "张三丰",
    id_number: str | None = None,
    phone: str | None = None,
    occupation: str = Occupation.FOOD_DELIVERY,
    status: str = MemberStatus.ACTIVE,
    born: date = date(1990, 3, 7),
    **extra,
) -> Member:
    from members.validators import parse_id_number

    info = parse_id_number(id_number or make_id_number(born=born))
    member = Member(
        org=org or make_org(),
        user=user,
        name=name,
        birth_date=info.birth_date,
        gender=info.gender,
        occupation=occupation,
        status=status,
        **extra,
    )
    member.set_id_number(info.number)
    member.set_phone(phone if phone is not None else make_phone())
    if status == MemberStatus.ACTIVE and not member.member_no:
        member.member_no = f"M{next(_seq):09d}"
    member.save()
    return member


def make_platform(*, code: str | None = None, name: str | None = None) -> Platform:
    n = next(_seq)
    return Platform.objects.create(
        code=code or f"platform-{n}", name=name or f"测试平台{n}"
    )


def assign_case(staff: User, member: Member, *, assigned_by: User | None = None):
    """An active case assignment of `staff` to `member` (security.md AC5), as
    the member admin's "分配给审核员" action leaves it."""
    from members.models import CaseAssignment

    return CaseAssignment.objects.create(
        staff=staff, member=member, assigned_by=assigned_by
    )
