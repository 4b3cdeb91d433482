"""Builders for joining tests."""

from __future__ import annotations

from django.utils import timezone

from members.actions.joining import application_submit
from members.models import (
    EmploymentCategory,
    MembershipApplication,
    Occupation,
    UnionOrg,
    User,
)
from members.notices import SENSITIVE_PI_JOIN_NOTICE_VERSION
from tests.factories import make_id_number, make_phone, make_user

REVIEWER_PERMS = (
    "members.view_membershipapplication",
    "members.change_membershipapplication",
    "members.view_member",
    "members.change_member",
    "members.view_consentrecord",
    "members.view_datarequest",
    "members.change_datarequest",
    "members.view_platformrider",
)


def make_verified_user(*, phone: str | None = None) -> User:
    user = make_user(phone=phone or make_phone())
    user.phone_verified_at = timezone.now()
    user.save(update_fields=["phone_verified_at"])
    return user


def submit_application(
    *,
    user: User | None = None,
    id_number: str | None = None,
    org: UnionOrg | None = None,
    name: str = "王小明",
    residence_county: str = "440305",
    **overrides,
) -> MembershipApplication:
    return application_submit(
        user=user or make_verified_user(),
        name=name,
        id_number=id_number or make_id_number(),
        occupation=overrides.pop("occupation", Occupation.FOOD_DELIVERY),
        employment_category=overrides.pop(
            "employment_category", EmploymentCategory.WRITTEN_AGREEMENT
        ),
        hukou_county=overrides.pop("hukou_county", "440305"),
        residence_county=residence_county,
        org=org,
        consent_notice_version=overrides.pop(
            "consent_notice_version", SENSITIVE_PI_JOIN_NOTICE_VERSION
        ),
        **overrides,
    )


def join_post_data(**overrides) -> dict:
    """A complete, valid /join/ form POST (a courier in Nanshan), to override."""
    return {
        "name": "王小明",
        "id_number": "440305199003071236",
        "occupation": "courier",
        "employment_category": "self_employed",
        "hukou_county": "440305",
        "residence_county": "440305",
        "org": "",
        "consent_sensitive": "on",
        **overrides,
    }
