"""Synchronous platform endpoints: enroll up to 1,000 riders, offboard riders,
look one rider up (masked)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_noop
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from portal.exceptions import ConflictError
from portal.masking import mask_id_number
from services.actions.batch_rows import CSV_COLUMNS
from services.actions.batches import enrollments_submit, program_for_platform
from services.actions.idempotency import (
    idempotency_complete,
    idempotency_release,
)
from services.actions.riders import riders_offboard
from services.apis.common import (
    BULK_ERRORS,
    IDEMPOTENCY_PARAMETER,
    READ_ERRORS,
    REPLAY_RESPONSE_HEADER,
    RESPONSE_HEADERS,
    NoUnknownFieldsSerializer,
    PlatformApi,
    StrictCharField,
    UniqueListField,
    canonical_json,
    claim_idempotency_key,
    idempotency_key_from,
    json_response,
    render_json,
    replay_response,
    request_hash,
)
from services.models import EnrollmentStatus
from services.selectors.batches import enrollments_of_member, rider_get_for_platform

MAX_ROWS = 1000


class RiderInputSerializer(NoUnknownFieldsSerializer):
    name = StrictCharField(max_length=200, allow_blank=True)
    id_number = StrictCharField(max_length=64, allow_blank=True)
    phone = StrictCharField(max_length=64, allow_blank=True)
    occupation = StrictCharField(max_length=64, allow_blank=True)
    city_code = StrictCharField(max_length=16, allow_blank=True)
    platform_rider_id = StrictCharField(max_length=200, allow_blank=True)
    joined_platform_on = StrictCharField(
        max_length=32, allow_blank=True, required=False, allow_null=True
    )
    consent_ref = StrictCharField(
        max_length=200, allow_blank=True, required=False, allow_null=True
    )
    consented_at = StrictCharField(
        max_length=64, allow_blank=True, required=False, allow_null=True
    )


class EnrollmentsInputSerializer(NoUnknownFieldsSerializer):
    program = StrictCharField(max_length=40)
    riders = serializers.ListField(
        child=RiderInputSerializer(), min_length=1, max_length=MAX_ROWS
    )


class RowResultSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    platform_rider_id = serializers.CharField()
    outcome = serializers.ChoiceField(["created", "already_enrolled", "rejected"])
    code = serializers.CharField(allow_blank=True)
    field = serializers.CharField(allow_blank=True)
    message = serializers.CharField(allow_blank=True)


class EnrollmentsResultSerializer(serializers.Serializer):
    batch_id = serializers.IntegerField()
    total_rows = serializers.IntegerField()
    created = serializers.IntegerField()
    already_enrolled = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = RowResultSerializer(many=True)


def _guard_list(data, field_name: str) -> None:
    """Refuse an oversized list before validating its elements one by one."""
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["应为JSON对象。"]})
    items = data.get(field_name)
    if isinstance(items, list) and len(items) > MAX_ROWS:
        raise ValidationError(
            {field_name: [f"每次最多{MAX_ROWS}条,大批量请上传CSV文件。"]}
        )


def _idempotent_post(
    request, *, platform, kind: str, list_field: str, serializer_class, work
):
    """The synchronous bulk endpoints' shared path (security.md AP5): validate,
    claim the Idempotency-Key (replay / 409 / 422 come from the claim), run
    `work(data, record) -> JSON body` and store its answer in one durable
    transaction, and release the key if anything fails."""
    key = idempotency_key_from(request)
    _guard_list(request.data, list_field)
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    claim = claim_idempotency_key(
        platform=platform,
        key=key,
        request_hash=request_hash(kind, canonical_json(request.data)),
    )
    if claim.replay is not None:
        return replay_response(claim.replay)
    record = claim.record
    try:
        body = _run_once_more_on_a_race(work, serializer.validated_data, record)
    except Exception:
        idempotency_release(record=record)
        raise
    return json_response(body, status_code=200)


MSG_CONCURRENT = gettext_noop("与同时进行的另一请求冲突,请稍后用同一幂等键重试。")


def _run_once_more_on_a_race(work, data, record) -> str:
    """Run `work` and store its answer in one durable transaction. A unique value
    that a concurrent request committed meanwhile (the same new phone or rider
    id in two submissions at once) fails it with IntegrityError; a second run
    sees that value and answers each row by the usual rules. Should that race
    again, the answer is 409 (the key is released: retry with it), never a 500."""
    for attempt in range(2):
        try:
            with transaction.atomic(durable=True):
                body = work(data, record)
                idempotency_complete(record=record, status=200, body=body, headers={})
            return body
        except IntegrityError:
            if attempt:
                raise ConflictError(MSG_CONCURRENT, code="concurrent_write") from None
    raise AssertionError("unreachable")  # pragma: no cover


class EnrollmentsSubmitApi(PlatformApi):
    throttle_scope = "platform_bulk"

    @extend_schema(
        operation_id="enrollments_create",
        summary="同步报名(最多1000人)",
        description="每行返回 created / already_enrolled / rejected(代码见接口文档)。",
        parameters=[IDEMPOTENCY_PARAMETER, REPLAY_RESPONSE_HEADER, *RESPONSE_HEADERS],
        request=EnrollmentsInputSerializer,
        responses={200: EnrollmentsResultSerializer, **BULK_ERRORS},
    )
    def post(self, request):
        def submit(data, record) -> str:
            program = program_for_platform(
                code=data["program"], on=timezone.localdate()
            )
            riders = [{c: r.get(c) for c in CSV_COLUMNS} for r in data["riders"]]
            batch, outcomes = enrollments_submit(
                platform=self.platform,
                program=program,
                riders=riders,
                idempotency_key=record.key,
                request_hash=record.request_hash,
            )
            return render_json(
                EnrollmentsResultSerializer(
                    {
                        "batch_id": batch.pk,
                        "total_rows": batch.total_rows,
                        "created": batch.created,
                        "already_enrolled": batch.already_enrolled,
                        "rejected": batch.rejected,
                        "results": [o.__dict__ for o in outcomes],
                    }
                ).data
            )

        return _idempotent_post(
            request,
            platform=self.platform,
            kind="enrollments",
            list_field="riders",
            serializer_class=EnrollmentsInputSerializer,
            work=submit,
        )


class OffboardingsInputSerializer(NoUnknownFieldsSerializer):
    offboarded_on = serializers.DateField(input_formats=["%Y-%m-%d"])
    platform_rider_ids = UniqueListField(
        child=StrictCharField(max_length=64), min_length=1, max_length=MAX_ROWS
    )

    def validate_offboarded_on(self, value):
        if value > timezone.localdate():
            raise ValidationError("离开日期不能晚于今天。")
        return value

    def validate_platform_rider_ids(self, value):
        if len(set(value)) != len(value):
            raise ValidationError("骑手编号有重复。")
        return value


class OffboardResultSerializer(serializers.Serializer):
    platform_rider_id = serializers.CharField()
    outcome = serializers.ChoiceField(
        ["offboarded", "already_offboarded", "not_found", "rejected"]
    )
    code = serializers.CharField(allow_blank=True)
    message = serializers.CharField(allow_blank=True)


class OffboardingsResultSerializer(serializers.Serializer):
    offboarded = serializers.IntegerField()
    results = OffboardResultSerializer(many=True)


class OffboardingsApi(PlatformApi):
    throttle_scope = "platform_bulk"

    @extend_schema(
        operation_id="offboardings_create",
        summary="登记骑手离开平台",
        description="每个骑手编号返回一个结果;编号按原样比较,不去除空格。",
        parameters=[IDEMPOTENCY_PARAMETER, REPLAY_RESPONSE_HEADER, *RESPONSE_HEADERS],
        request=OffboardingsInputSerializer,
        responses={200: OffboardingsResultSerializer, **BULK_ERRORS},
    )
    def post(self, request):
        def offboard(data, record) -> str:
            outcomes = riders_offboard(
                platform=self.platform,
                platform_rider_ids=data["platform_rider_ids"],
                offboarded_on=data["offboarded_on"],
            )
            return render_json(
                OffboardingsResultSerializer(
                    {
                        "offboarded": sum(o.outcome == "offboarded" for o in outcomes),
                        "results": [o.__dict__ for o in outcomes],
                    }
                ).data
            )

        return _idempotent_post(
            request,
            platform=self.platform,
            kind="offboardings",
            list_field="platform_rider_ids",
            serializer_class=OffboardingsInputSerializer,
            work=offboard,
        )


# What a platform reads of an enrollment it arranged (security.md AC3: never a
# review status). An automated "no" under staff review still covers, so it reads
# `active`; a cover staff ended after that review reads `ended`, like one whose
# period is over: the platform learns that it no longer covers, not why.
PLATFORM_ENROLLMENT_STATUS = {
    EnrollmentStatus.ACTIVE: "active",
    EnrollmentStatus.NEEDS_REVIEW: "active",
    EnrollmentStatus.LAPSED: "ended",
    EnrollmentStatus.ENDED: "ended",
    EnrollmentStatus.WITHDRAWN: "withdrawn",
}


class RiderEnrollmentSerializer(serializers.Serializer):
    program = serializers.CharField()
    program_name = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    status = serializers.ChoiceField(
        choices=sorted(set(PLATFORM_ENROLLMENT_STATUS.values())),
        help_text=(
            "active 保障中 · ended 已结束(到期或提前终止)· withdrawn 骑手本人已退出"
        ),
    )


class RiderDetailSerializer(serializers.Serializer):
    """Only what the platform itself sent or did: the union's own record of the
    person (name, phone as the worker keeps it, membership, coverage arranged
    by the worker or another platform) is not the platform's to read, whoever
    the ID number it submitted belongs to."""

    platform_rider_id = serializers.CharField()
    id_number = serializers.CharField(help_text="脱敏身份证号(平台提交的号码)")
    joined_platform_on = serializers.DateField(allow_null=True)
    offboarded_on = serializers.DateField(allow_null=True)
    enrollments = RiderEnrollmentSerializer(
        many=True, help_text="本平台为该骑手办理的参保"
    )


class RiderDetailApi(PlatformApi):
    @extend_schema(
        operation_id="riders_retrieve",
        summary="查询本平台一名骑手的会籍与参保状态(脱敏)",
        description="只能查询本平台的骑手,其他编号返回404。",
        parameters=[*RESPONSE_HEADERS],
        responses={200: RiderDetailSerializer, **READ_ERRORS},
    )
    def get(self, request, platform_rider_id: str):
        rider = rider_get_for_platform(
            platform=self.platform, platform_rider_id=platform_rider_id
        )
        if rider is None:
            raise Http404
        member = rider.member
        self.audit_member = member
        self.audit_object = ("platform_rider", rider.pk)
        data = RiderDetailSerializer(
            {
                "platform_rider_id": rider.platform_rider_id,
                # The rider was matched by this ID number's keyed hash: it is
                # the number the platform submitted.
                "id_number": mask_id_number(member.id_number),
                "joined_platform_on": rider.joined_platform_on,
                "offboarded_on": rider.offboarded_on,
                "enrollments": [
                    {
                        "program": e.program.code,
                        "program_name": e.program.name,
                        "period_start": e.period_start,
                        "period_end": e.period_end,
                        "status": PLATFORM_ENROLLMENT_STATUS[e.status],
                    }
                    for e in enrollments_of_member(
                        member=member, platform=self.platform
                    )
                ],
            }
        ).data
        return json_response(render_json(data), status_code=200)
