"""Members app models, split by concern; import them from here."""

from .accounts import User
from .api_keys import PlatformApiKey
from .audit import AuditLog
from .notifications import (
    Notification,
    NotificationCategory,
    NotificationChannel,
    NotificationStatus,
)
from .orgs import OrgKind, OrgLevel, Platform, UnionOrg
from .people import (
    EmploymentCategory,
    Member,
    MemberStatus,
    Occupation,
    PlatformRider,
)

__all__ = [
    "AuditLog",
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
