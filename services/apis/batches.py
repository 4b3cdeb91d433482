"""Enrollment batches: upload a CSV (202), poll it, download its errors."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser

from services.actions.batches import (
    batch_storage_dir,
    enrollment_batch_create,
    program_for_platform,
)
from services.actions.idempotency import (
    idempotency_complete,
    idempotency_release,
)
from services.apis.common import (
    BULK_ERRORS,
    IDEMPOTENCY_PARAMETER,
    READ_ERRORS,
    REPLAY_RESPONSE_HEADER,
    RESPONSE_HEADERS,
    PlatformApi,
    claim_idempotency_key,
    idempotency_key_from,
    json_response,
    render_json,
    replay_response,
    request_hash,
)
from services.selectors.batches import (
    batch_errors_csv_lines,
    batch_get_for_platform,
    batch_owner_platform_id,
)
from services.uploads import BatchUploadHandler, StagedUpload, inspect_head


def _batch_url(request, batch_id: int) -> str:
    return request.build_absolute_uri(
        reverse("services-api:enrollment-batch-detail", args=[batch_id])
    )


class BatchAcceptedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.URLField()


class BatchUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV文件(UTF-8、带BOM的UTF-8或GBK)")
    program = serializers.CharField(help_text="保障计划代码")


class EnrollmentBatchCreateApi(PlatformApi):
    parser_classes = [MultiPartParser]
    throttle_scope = "platform_bulk"

    def initialize_request(self, request, *args, **kwargs):
        # Before anything reads the body: stream the file to private storage.
        request.upload_handlers = [BatchUploadHandler(request)]
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        operation_id="enrollment_batches_create",
        summary="上传参保CSV文件(异步处理)",
        description="文件格式、处理方式和错误代码见接口文档第2节;返回202后轮询批次。",
        parameters=[IDEMPOTENCY_PARAMETER, REPLAY_RESPONSE_HEADER, *RESPONSE_HEADERS],
        request={"multipart/form-data": BatchUploadSerializer},
        responses={202: BatchAcceptedSerializer, **BULK_ERRORS},
    )
    def post(self, request):
        key = idempotency_key_from(request)
        staged = None
        try:
            staged = request.FILES.get("file")
            if not isinstance(staged, StagedUpload):
                raise ValidationError({"file": ["请上传CSV文件(字段名 file)。"]})
            program_code = request.data.get("program", "")
            if not isinstance(program_code, str) or not program_code.strip():
                raise ValidationError({"program": ["请填写保障计划代码。"]})
            claim = claim_idempotency_key(
                platform=self.platform,
                key=key,
                request_hash=request_hash(
                    "enrollment-batches", program_code.strip(), staged.sha256
                ),
            )
        except Exception:
            if staged is not None and isinstance(staged, StagedUpload):
                staged.discard()
            raise
        if claim.replay is not None:
            staged.discard()
            return replay_response(claim.replay)
        record = claim.record
        try:
            check = inspect_head(staged.head, size=staged.size)
            if check.error:
                raise ValidationError({"file": [check.error]})
            program = program_for_platform(
                code=program_code.strip(), on=timezone.localdate()
            )
            final_name = f"{uuid.uuid4().hex}.csv"
            staged.path.rename(batch_storage_dir() / final_name)
            try:
                with transaction.atomic():
                    batch = enrollment_batch_create(
                        platform=self.platform,
                        program=program,
                        staged_name=final_name,
                        file_size=staged.size,
                        file_encoding=check.encoding,
                        idempotency_key=key,
                        request_hash=record.request_hash,
                    )
                    body = render_json(
                        {
                            "id": batch.pk,
                            "status": batch.status,
                            "url": _batch_url(request, batch.pk),
                        }
                    )
                    idempotency_complete(
                        record=record, status=202, body=body, headers={}
                    )
            except Exception:
                (batch_storage_dir() / final_name).unlink(missing_ok=True)
                raise
        except Exception:
            idempotency_release(record=record)
            staged.discard()
            raise
        return json_response(body, status_code=202)


class BatchDetailSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    program = serializers.CharField()
    status = serializers.ChoiceField(["queued", "processing", "done", "failed"])
    total_rows = serializers.IntegerField(allow_null=True)
    processed_rows = serializers.IntegerField()
    created = serializers.IntegerField()
    already_enrolled = serializers.IntegerField()
    rejected = serializers.IntegerField()
    errors_url = serializers.URLField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class EnrollmentBatchDetailApi(PlatformApi):
    @extend_schema(
        operation_id="enrollment_batches_retrieve",
        summary="查询批次进度与结果",
        description="其他平台的批次与不存在的批次一样返回404。",
        parameters=[*RESPONSE_HEADERS],
        responses={200: BatchDetailSerializer, **READ_ERRORS},
    )
    def get(self, request, batch_id: int):
        batch = batch_get_for_platform(platform=self.platform, batch_id=batch_id)
        if batch is None:
            self.not_found(
                object_type="enrollment_batch",
                object_id=batch_id,
                owner_platform_id=batch_owner_platform_id(batch_id=batch_id),
            )
        data = BatchDetailSerializer(
            {
                "id": batch.pk,
                "program": batch.program.code,
                "status": batch.status,
                "total_rows": batch.total_rows,
                "processed_rows": batch.processed_rows,
                "created": batch.created,
                "already_enrolled": batch.already_enrolled,
                "rejected": batch.rejected,
                "errors_url": request.build_absolute_uri(
                    reverse("services-api:enrollment-batch-errors", args=[batch.pk])
                ),
                "created_at": batch.created_at,
                "finished_at": batch.finished_at,
            }
        ).data
        response = json_response(render_json(data), status_code=200)
        return response


class EnrollmentBatchErrorsApi(PlatformApi):
    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="enrollment_batches_errors",
        summary="下载被拒绝行的错误清单(CSV)",
        description="UTF-8(带BOM)CSV:row,field,code,message,每个被拒绝的行一行。",
        parameters=[*RESPONSE_HEADERS],
        responses={
            (200, "text/csv"): OpenApiResponse(
                str, description="row,field,code,message"
            ),
            **READ_ERRORS,
        },
    )
    def get(self, request, batch_id: int):
        batch = batch_get_for_platform(platform=self.platform, batch_id=batch_id)
        if batch is None:
            self.not_found(
                object_type="enrollment_batch",
                object_id=batch_id,
                owner_platform_id=batch_owner_platform_id(batch_id=batch_id),
            )
        response = StreamingHttpResponse(
            batch_errors_csv_lines(batch=batch), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="batch-{batch.pk}-errors.csv"'
        )
        return response
