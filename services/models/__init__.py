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

__all__ = [
    "BenefitItem",
    "BenefitKind",
    "Enrollment",
    "EnrollmentMode",
    "EnrollmentSource",
    "EnrollmentStatus",
    "Program",
]
