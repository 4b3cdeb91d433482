"""Members app models, split by concern; import them from here."""

from .accounts import User
from .api_keys import PlatformApiKey, PlatformApiUsage
from .audit import AuditLog
from .cases import CaseAssignment
from .joining import (
    ApplicationStatus,
    ConsentChannel,
    ConsentPurpose,
    ConsentRecord,
    DataRequest,
    DataRequestKind,
    DataRequestStatus,
    MembershipApplication,
    MembershipEvent,
    MembershipEventKind,
)
from .notifications import (
    Notification,
    NotificationCategory,
    NotificationChannel,
    NotificationStatus,
)
from .orgs import OrgKind, OrgLevel, Platform, UnionOrg
from .otp import OneTimeCode, OtpPurpose
from .people import (
    ANONYMISED_NAME,
    EX_MEMBER_STATUSES,
    EmploymentCategory,
    Member,
    MemberStatus,
    Occupation,
    PlatformRider,
)
from .regions import RegionCode
from .totp import StaffTotpDevice

__all__ = [
    "ANONYMISED_NAME",
    "EX_MEMBER_STATUSES",
    "ApplicationStatus",
    "ConsentChannel",
    "ConsentPurpose",
    "ConsentRecord",
    "DataRequest",
    "DataRequestKind",
    "DataRequestStatus",
    "MembershipApplication",
    "MembershipEvent",
    "MembershipEventKind",
    "OneTimeCode",
    "PlatformApiUsage",
    "OtpPurpose",
    "RegionCode",
    "StaffTotpDevice",
    "AuditLog",
    "CaseAssignment",
    "EmploymentCategory",
    "Member",
    "Notification",
    "NotificationCategory",
    "NotificationChannel",
    "NotificationStatus",
    "MemberStatus",
    "Occupation",
    "OrgKind",
    "OrgLevel",
    "Platform",
    "PlatformApiKey",
    "PlatformRider",
    "UnionOrg",
    "User",
]
