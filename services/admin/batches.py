from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from members.admin_mixins import ReadOnlyAdminMixin
from services.models import EnrollmentBatch
from services.selectors.batches import batch_errors_csv_lines, batches_visible_to


@admin.register(EnrollmentBatch)
class EnrollmentBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Platform enrollment batches, read-only: a live progress bar (htmx polling
    every 2 s, stopped with HTTP 286 when the batch ends), counts and the errors
    file. Visible to superusers and city-level (or higher) union staff."""

    list_display = (
        "id",
        "platform",
        "program",
        "source",
        "status",
        "progress_display",
        "total_rows",
        "created",
        "already_enrolled",
        "rejected",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "source", "platform", "program")
    list_select_related = ("platform", "program")
    date_hierarchy = "created_at"
    change_form_template = "admin/services/enrollmentbatch/change_form.html"
    fields = (
        "platform",
        "program",
        "source",
        "status",
        "total_rows",
        "processed_rows",
        "created",
        "already_enrolled",
        "rejected",
        "failure_reason",
        "file_size",
        "file_encoding",
        "idempotency_key",
        "created_at",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[EnrollmentBatch]:
        return batches_visible_to(user=request.user)

    @admin.display(description="进度")
    def progress_display(self, obj: EnrollmentBatch) -> str:
        return f"{obj.progress_percent}%"

    def get_urls(self):
        return [
            path(
                "<int:batch_id>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="services_enrollmentbatch_progress",
            ),
            path(
                "<int:batch_id>/errors.csv",
                self.admin_site.admin_view(self.errors_view),
                name="services_enrollmentbatch_errors",
            ),
            *super().get_urls(),
        ]

    def _visible_batch(self, request: HttpRequest, batch_id: int) -> EnrollmentBatch:
        if not self.has_view_permission(request):
            raise Http404
        batch = self.get_queryset(request).filter(pk=batch_id).first()
        if batch is None:
            raise Http404
        return batch

    def progress_view(self, request: HttpRequest, batch_id: int) -> HttpResponse:
        batch = self._visible_batch(request, batch_id)
        finished = batch.status in ("done", "failed")
        response = TemplateResponse(
            request,
            "admin/services/enrollmentbatch/_progress.html",
            progress_context(batch),
        )
        # htmx stops polling on 286 (and still swaps in the final numbers).
        response.status_code = 286 if finished else 200
        return response

    def errors_view(self, request: HttpRequest, batch_id: int) -> HttpResponse:
        batch = self._visible_batch(request, batch_id)
        response = StreamingHttpResponse(
            batch_errors_csv_lines(batch=batch), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="batch-{batch.pk}-errors.csv"'
        )
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = self.get_queryset(request).filter(pk=object_id).first()
        extra = extra_context or {}
        if batch is not None:
            extra.update(progress_context(batch))
            extra["errors_url"] = reverse(
                "admin:services_enrollmentbatch_errors", args=[batch.pk]
            )
        return super().change_view(request, object_id, form_url, extra)


def progress_context(batch: EnrollmentBatch) -> dict:
    return {
        "batch": batch,
        "polling": batch.status not in ("done", "failed"),
        "progress_url": reverse(
            "admin:services_enrollmentbatch_progress", args=[batch.pk]
        ),
    }
