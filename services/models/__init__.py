"""Member-services models, one module per area; import them from here."""

from .programs import (
    BenefitItem,
    BenefitKind,
    EligibilityRule,
    Enrollment,
    EnrollmentEvent,
    EnrollmentEventSource,
    EnrollmentMode,
    EnrollmentSource,
    EnrollmentStatus,
    PeriodRule,
    Program,
    RuleKind,
    add_months,
)

__all__ = [
    "BenefitItem",
    "BenefitKind",
    "EligibilityRule",
    "Enrollment",
    "EnrollmentEvent",
    "EnrollmentEventSource",
    "EnrollmentMode",
    "EnrollmentSource",
    "EnrollmentStatus",
    "PeriodRule",
    "Program",
    "RuleKind",
    "add_months",
]
