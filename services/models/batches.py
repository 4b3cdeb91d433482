"""Platform enrollment batches (issue #6): a CSV upload or a JSON call, processed
in chunks; per-row errors; the idempotency ledger of the platform API.

Data flow: the upload is streamed to private storage -> `EnrollmentBatch` (queued)
-> split into `EnrollmentBatchChunk` rows by byte offset -> each chunk is parsed in
Python, copied into `BatchStagingRow` and applied with set-based SQL in one
transaction that also marks the chunk done and adds its counts to the batch.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class BatchStatus(models.TextChoices):
    QUEUED = "queued", "排队中"
    PROCESSING = "processing", "处理中"
    DONE = "done", "已完成"
    FAILED = "failed", "失败"


class BatchSource(models.TextChoices):
    FILE = "file", "CSV文件"
    JSON = "json", "JSON接口"


class EnrollmentBatch(models.Model):
    platform = models.ForeignKey(
        "members.Platform",
        verbose_name="平台企业",
        on_delete=models.PROTECT,
        related_name="enrollment_batches",
    )
    program = models.ForeignKey(
        "services.Program",
        verbose_name="保障计划",
        on_delete=models.PROTECT,
        related_name="enrollment_batches",
    )
    source = models.CharField(
        "来源", max_length=10, choices=BatchSource.choices, default=BatchSource.FILE
    )
    status = models.CharField(
        "状态",
        max_length=12,
        choices=BatchStatus.choices,
        default=BatchStatus.QUEUED,
        db_index=True,
    )
    idempotency_key = models.CharField("幂等键", max_length=255, blank=True)
    request_hash = models.CharField("请求摘要", max_length=64, blank=True)
    file_path = models.CharField(
        "文件(私有存储)", max_length=255, blank=True, editable=False
    )
    file_size = models.BigIntegerField("文件大小(字节)", default=0)
    file_encoding = models.CharField("文件编码", max_length=20, blank=True)
    total_rows = models.PositiveIntegerField("总行数", null=True, blank=True)
    processed_rows = models.PositiveIntegerField("已处理行数", default=0)
    created = models.PositiveIntegerField("新参保", default=0)
    already_enrolled = models.PositiveIntegerField("已参保", default=0)
    rejected = models.PositiveIntegerField("拒绝", default=0)
    failure_reason = models.CharField("失败原因", max_length=300, blank=True)
    created_at = models.DateTimeField("提交时间", auto_now_add=True)
    started_at = models.DateTimeField("开始处理", null=True, blank=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = "平台参保批次"
        verbose_name_plural = "平台参保批次"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["platform", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="done")
                | Q(
                    total_rows=models.F("created")
                    + models.F("already_enrolled")
                    + models.F("rejected")
                ),
                name="enrollmentbatch_done_counts_add_up",
            ),
        ]

    def __str__(self) -> str:
        return f"批次 {self.pk} · {self.platform}"

    @property
    def progress_percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == BatchStatus.DONE else 0
        return min(100, self.processed_rows * 100 // self.total_rows)


class ChunkStatus(models.TextChoices):
    PENDING = "pending", "待处理"
    PROCESSING = "processing", "处理中"
    DONE = "done", "已完成"


class EnrollmentBatchChunk(models.Model):
    """A byte range of the staged file. Processing one is a single transaction
    that ends by marking it done, so a chunk is counted exactly once however
    often its task is delivered."""

    batch = models.ForeignKey(
        EnrollmentBatch, on_delete=models.CASCADE, related_name="chunks"
    )
    index = models.PositiveIntegerField("序号")
    start_offset = models.BigIntegerField()
    end_offset = models.BigIntegerField()
    first_row = models.PositiveIntegerField("首行行号")
    row_count = models.PositiveIntegerField("行数")
    status = models.CharField(
        max_length=12, choices=ChunkStatus.choices, default=ChunkStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # Set by the staging transaction (rows parsed and COPYed); the chunk is
    # applied once every earlier chunk of its batch is staged too.
    staged_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created = models.PositiveIntegerField(default=0)
    already_enrolled = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "批次分块"
        verbose_name_plural = "批次分块"
        ordering = ["batch", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "index"], name="batchchunk_unique_index"
            ),
        ]
        indexes = [
            models.Index(
                fields=["claimed_at"],
                name="batchchunk_open",
                condition=~Q(status="done"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}#{self.index}"


class BatchRowError(models.Model):
    """One line of the errors CSV: a rejected row (1-based data row number)."""

    batch = models.ForeignKey(
        EnrollmentBatch, on_delete=models.CASCADE, related_name="row_errors"
    )
    row = models.PositiveIntegerField("行号")
    field = models.CharField("字段", max_length=40, blank=True)
    code = models.CharField("错误代码", max_length=40)
    message = models.CharField("说明", max_length=300)

    class Meta:
        verbose_name = "批次错误行"
        verbose_name_plural = "批次错误行"
        ordering = ["batch", "row"]
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "row"], name="batchrowerror_unique_row"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.row} {self.code}"


class BatchStagingRow(models.Model):
    """Parsed, normalised and encrypted rows of a batch being processed (UNLOGGED
    on PostgreSQL). Earlier chunks' rows stay until the batch is done, so
    duplicates across the whole file are found. Deleted when the batch ends."""

    batch_id = models.BigIntegerField()
    row_no = models.PositiveIntegerField()
    name = models.CharField(max_length=50, null=True)
    id_hmac = models.CharField(max_length=64, null=True)
    id_enc = models.TextField(null=True)
    phone_hmac = models.CharField(max_length=64, null=True)
    phone_enc = models.TextField(null=True)
    birth_date = models.DateField(null=True)
    gender = models.CharField(max_length=1, null=True)
    occupation = models.CharField(max_length=20, null=True)
    city_code = models.CharField(max_length=6, null=True)
    org_id = models.BigIntegerField(null=True)
    rider_id = models.CharField(max_length=64, null=True)
    joined_on = models.DateField(null=True)
    consent_ref = models.CharField(max_length=128, null=True)
    consented_at = models.DateTimeField(null=True)
    valid = models.BooleanField(default=False)
    err_field = models.CharField(max_length=40, null=True)
    err_code = models.CharField(max_length=40, null=True)
    err_message = models.CharField(max_length=300, null=True)
    member_id = models.BigIntegerField(null=True)
    member_new = models.BooleanField(default=False)
    outcome = models.CharField(max_length=20, null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["batch_id", "row_no"], name="batchstaging_unique_row"
            ),
        ]
        indexes = [
            models.Index(fields=["batch_id", "id_hmac"], name="batchstaging_id"),
            models.Index(fields=["batch_id", "rider_id"], name="batchstaging_rider"),
            models.Index(fields=["batch_id", "phone_hmac"], name="batchstaging_phone"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.row_no}"


class IdempotencyState(models.TextChoices):
    IN_FLIGHT = "in_flight", "处理中"
    DONE = "done", "已完成"


class IdempotencyRecord(models.Model):
    """One (platform, Idempotency-Key): the request's hash and the stored first
    response, kept at least 24 hours (security.md AP5, F6/F7)."""

    platform = models.ForeignKey(
        "members.Platform", on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField("幂等键", max_length=255)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(
        max_length=10,
        choices=IdempotencyState.choices,
        default=IdempotencyState.IN_FLIGHT,
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "幂等记录"
        verbose_name_plural = "幂等记录"
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "key"], name="idempotency_unique_platform_key"
            ),
        ]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.platform_id}:{self.key}"
