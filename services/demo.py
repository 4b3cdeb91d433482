"""Demo data for member services (called by `manage.py seed_demo`)."""

from __future__ import annotations

from datetime import date

# What the demo reviewers (members.demo.REVIEWER_GROUP) need for the services
# side of their work: station problem reports of their union subtree (the admin
# scopes them by the station's org) and the stations those reports are about.
REVIEWER_SERVICE_PERMS = (
    "view_problemreport",
    "change_problemreport",  # the "标记为已处理" action
    "view_station",
)


def seed(*, stdout) -> list:
    grant_reviewer_permissions()
    seed_stations(stdout=stdout)
    return seed_programs_demo(stdout=stdout)


def grant_reviewer_permissions() -> None:
    """Add the services permissions to the demo reviewer group (created by
    members.demo, which may not import services)."""
    from django.contrib.auth.models import Group, Permission

    from members.demo import REVIEWER_GROUP

    reviewers, _ = Group.objects.get_or_create(name=REVIEWER_GROUP)
    reviewers.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="services", codename__in=REVIEWER_SERVICE_PERMS
        )
    )


def seed_stations(*, stdout) -> None:
    from services.demo_stations import seed_stations as load

    count = load()
    stdout.write(f"  {count} 个深圳工会驿站 (/services/stations/)")


def _id_number(region: str, born: date, seq: int) -> str:
    from members.validators import id_check_char

    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


def seed_programs_demo(*, stdout) -> list:
    """Three workers for the protection-program journeys: a food-delivery rider
    covered by E路守护 (无记名), a 65-year-old domestic worker whom 家政守护
    turns away with the reason, and a sanitation worker who can enroll in
    环卫守护 and withdraw again. Idempotent; fresh passwords each run."""
    from members.demo import new_password
    from members.ip_allowlist import LOOPBACK
    from members.management.commands.seed_demo import DemoLogin
    from members.models import (
        Member,
        MemberStatus,
        Platform,
        PlatformRider,
        UnionOrg,
        User,
    )
    from services.models import BenefitItem, EligibilityRule, Program
    from services.reference_data import seed_shengong_programs, shenzhen_federation

    seed_shengong_programs(
        program_model=Program,
        rule_model=EligibilityRule,
        benefit_model=BenefitItem,
        union_org_model=UnionOrg,
    )
    org = shenzhen_federation(union_org_model=UnionOrg)
    # The demo platform may call the API from this machine only (security.md AP2:
    # `issue_platform_key demo-delivery` then curl on localhost works).
    platform, _ = Platform.objects.get_or_create(
        code="demo-delivery",
        defaults={"name": "示例外卖平台", "allowed_networks": list(LOOPBACK)},
    )
    today = date.today()  # noqa: DTZ011 - a calendar date for demo ages
    people = [
        ("demo_rider", "13800000101", "王骑手", "food_delivery", date(1992, 5, 1), 11),
        (
            "demo_sanitation",
            "13800000103",
            "李师傅",
            "sanitation",
            date(1980, 6, 1),
            33,
        ),
        (
            "demo_domestic65",
            "13800000102",
            "陈阿姨",
            "domestic",
            date(today.year - 65, 1, 1),
            22,
        ),
    ]
    logins = []
    for username, phone, name, occupation, born, seq in people:
        user, _ = User.objects.get_or_create(username=username)
        user.set_phone(phone)
        password = new_password()
        user.set_password(password)
        user.save()
        member = Member.objects.filter(user=user).first()
        if member is None:
            member = Member(
                user=user,
                name=name,
                birth_date=born,
                gender="M" if seq % 2 else "F",
                occupation=occupation,
                residence_county="440305",
                org=org,
                status=MemberStatus.ACTIVE,
                member_no=f"DEMO{seq:06d}",
            )
            member.set_id_number(_id_number("440305", born, seq))
            member.set_phone(phone)
            member.save()
        if occupation == "food_delivery":
            PlatformRider.objects.get_or_create(
                platform=platform,
                member=member,
                defaults={
                    "platform_rider_id": f"demo-{seq}",
                    "joined_platform_on": date(2022, 3, 1),
                },
            )
        logins.append(
            DemoLogin(f"保障计划演示:{name}", phone, password, "/services/programs/")
        )
    return logins
