"""Member-services models, one module per area; import them from here."""

from .batches import (
    BatchRowError,
    BatchSource,
    BatchStagingRow,
    BatchStatus,
    ChunkStatus,
    EnrollmentBatch,
    EnrollmentBatchChunk,
    IdempotencyRecord,
    IdempotencyState,
)
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
    "BatchRowError",
    "BatchSource",
    "BatchStagingRow",
    "BatchStatus",
    "ChunkStatus",
    "EnrollmentBatch",
    "EnrollmentBatchChunk",
    "IdempotencyRecord",
    "IdempotencyState",
    "BenefitItem",
    "BenefitKind",
    "Enrollment",
    "EnrollmentMode",
    "EnrollmentSource",
    "EnrollmentStatus",
    "Program",
]
