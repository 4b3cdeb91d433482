"""Member-services models, one module per area; import them from here."""

from .programs import (
    BenefitItem,
    BenefitKind,
    Enrollment,
    EnrollmentMode,
    EnrollmentSource,
    EnrollmentStatus,
    Program,
)
from .stations import (
    AMENITY_ICONS,
    AccessMethod,
    Amenity,
    ProblemKind,
    ProblemReport,
    ProblemStatus,
    Station,
    StationHoliday,
    StationHours,
    StationPhoto,
    Weekday,
    amenity_field,
)

__all__ = [
    "AMENITY_ICONS",
    "AccessMethod",
    "Amenity",
    "BenefitItem",
    "BenefitKind",
    "Enrollment",
    "EnrollmentMode",
    "EnrollmentSource",
    "EnrollmentStatus",
    "ProblemKind",
    "ProblemReport",
    "ProblemStatus",
    "Program",
    "Station",
    "StationHoliday",
    "StationHours",
    "StationPhoto",
    "Weekday",
    "amenity_field",
]
