"""Reads for joining (入会), consents, history and data requests; every read is
scoped to the caller (security.md AC2/AC4)."""

from __future__ import annotations

from datetime import date

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from members.models import (
    ConsentRecord,
    DataRequest,
    MembershipApplication,
    MembershipEvent,
    RegionCode,
    UnionOrg,
    User,
)


def region_name(*, code: str, on: date | None = None) -> str:
    """The county/city name of a GB/T 2260 code, or "" when the table does not
    know it. `on` picks the version valid on that day; without it, any version."""
    qs = RegionCode.objects.filter(code=code)
    if on is not None:
        qs = qs.filter(valid_from__lte=on).filter(
            Q(valid_to__isnull=True) | Q(valid_to__gt=on)
        )
    row = qs.order_by("-valid_from").first()
    return row.name if row else ""


def region_code_warnings(*, code: str, today: date) -> list[str]:
    """BR-V2/V3: an unknown or retired code is a warning, never an error."""
    rows = list(RegionCode.objects.filter(code=code))
    if not rows:
        return [_("行政区划代码 %(code)s 不在代码表中,请核对。") % {"code": code}]
    if all(r.valid_to is not None and r.valid_to <= today for r in rows):
        return [_("行政区划代码 %(code)s 已停用。") % {"code": code}]
    return []


def gig_pool_orgs() -> QuerySet[UnionOrg]:
    return UnionOrg.objects.filter(is_gig_pool=True, is_active=True).order_by("id")


def joinable_orgs() -> QuerySet[UnionOrg]:
    """Orgs an applicant may choose: the gig-worker pools and grassroots unions."""
    return UnionOrg.objects.filter(
        Q(is_gig_pool=True) | Q(kind="grassroots"), is_active=True
    )  # UnionOrg's default order: by region, parent first


def default_org_for_residence(*, county_code: str) -> UnionOrg | None:
    """The 新业态联合工会 of the residence district, else the city-level pool of
    the residence city, else None."""
    district = gig_pool_orgs().filter(region_code=county_code, level="district")
    org = district.first()
    if org is None:
        org = gig_pool_orgs().filter(region_code=county_code[:4] + "00").first()
    return org


def application_get_for_user(*, user: User) -> MembershipApplication | None:
    """The worker's own application (one per account)."""
    return (
        MembershipApplication.objects.select_related("org", "member")
        .filter(user=user)
        .order_by("-created_at")
        .first()
    )


def applications_visible_to(*, user: User) -> QuerySet[MembershipApplication]:
    """Staff: submitted applications in their union subtree; never drafts."""
    qs = MembershipApplication.objects.exclude(status="draft").select_related("org")
    if user.is_superuser:
        return qs
    if not user.is_staff or user.org_id is None:
        return qs.none()
    return qs.filter(org__path__startswith=user.org.path)


def membership_events_for_user(*, user: User) -> QuerySet[MembershipEvent]:
    return MembershipEvent.objects.filter(user=user).select_related("org")


def consents_for_user(*, user: User) -> QuerySet[ConsentRecord]:
    return ConsentRecord.objects.filter(user=user)


def data_requests_for_user(*, user: User) -> QuerySet[DataRequest]:
    return DataRequest.objects.filter(user=user)
