"""Admin for protection programs: programs with their rules and benefit items,
enrollments (read-only, scoped to the staff user's union subtree, masked names),
and a dashboard of counts per program and status."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import connection
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from members.admin_mixins import (
    OrgScopedAdminMixin,
    ReadOnlyAdminMixin,
    ScopedChoicesAdminMixin,
    apply_each,
)
from members.models import Member, UnionOrg
from services.actions.programs import (
    enrollment_review_confirm,
    enrollment_review_restore,
)
from services.models import (
    BenefitItem,
    EligibilityRule,
    Enrollment,
    EnrollmentEvent,
    EnrollmentMode,
    EnrollmentStatus,
    Program,
)
from services.selectors.eligibility import (
    program_reasons_expression,
    programs_with_rules,
)


class EligibilityRuleInline(admin.TabularInline):
    model = EligibilityRule
    extra = 0
    fields = (
        "kind",
        "occupations",
        "min_value",
        "max_value",
        "region_prefix",
        "effective_from",
        "effective_to",
        "note",
    )


class BenefitItemInline(admin.TabularInline):
    model = BenefitItem
    extra = 0
    fields = ("name", "kind", "amount", "daily_rate", "max_days", "yearly_cap")


@admin.register(Program)
class ProgramAdmin(ScopedChoicesAdminMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "code",
        "enrollment_mode",
        "sponsor_org",
        "starts_on",
        "ends_on",
        "is_active",
    )
    list_filter = ("enrollment_mode", "is_active")
    search_fields = ("name", "code")
    list_select_related = ("sponsor_org",)
    raw_id_fields = ("sponsor_org",)
    readonly_fields = ("created_at", "updated_at")
    inlines = [EligibilityRuleInline, BenefitItemInline]


class OrgSubtreeFilter(admin.SimpleListFilter):
    """Filter by a union organisation and everything under it; offers only the
    organisations the staff user may see."""

    title = "所属工会(含下级)"
    parameter_name = "org"

    def lookups(self, request, model_admin):
        orgs = UnionOrg.objects.all()  # default order: by region, parent first
        if not request.user.is_superuser:
            org = getattr(request.user, "org", None)
            if org is None:
                return []
            orgs = orgs.filter(path__startswith=org.path)
        return [(str(o.pk), o.name) for o in orgs[:200]]

    def queryset(self, request, queryset):
        value = self.value()
        if not value or not value.isdigit():
            return queryset
        org = UnionOrg.objects.filter(pk=int(value)).first()
        if org is None:
            return queryset.none()
        # Composes with the mixin's scope: a foreign org yields no rows.
        return queryset.filter(member__org__path__startswith=org.path)


class EnrollmentEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = EnrollmentEvent
    extra = 0
    fields = ("created_at", "from_status", "to_status", "reason", "source", "actor")
    readonly_fields = fields


@admin.register(Enrollment)
class EnrollmentAdmin(OrgScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: enrollments change through actions (enroll, withdraw,
    nightly). Staff decide the nightly check's "no" here (PIPL art. 24) with
    two admin actions on enrollments under review (待人工复核)."""

    org_path_lookup = "member__org__path"
    list_display = (
        "id",
        "member_masked",
        "program",
        "period_start",
        "period_end",
        "status",
        "status_reason",
        "source",
        "org_name",
    )
    list_filter = ("program", "status", "source", OrgSubtreeFilter)
    list_select_related = ("member", "member__org", "program")
    search_fields = ("member__member_no",)
    date_hierarchy = "period_start"
    fields = (
        "member_masked",
        "program",
        "period_start",
        "period_end",
        "status",
        "status_reason",
        "source",
        "platform",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = [EnrollmentEventInline]
    actions = ("review_confirm", "review_restore")
    change_list_template = "admin/services/enrollment/change_list.html"

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("services.change_enrollment")

    @admin.action(description="确认失效(复核后不再符合条件)", permissions=["review"])
    def review_confirm(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._review(request, queryset, enrollment_review_confirm, "已确认失效")

    @admin.action(description="恢复保障(复核后继续有效)", permissions=["review"])
    def review_restore(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._review(request, queryset, enrollment_review_restore, "已恢复保障")

    def _review(self, request, queryset, action, done_label: str) -> None:
        """Selected rows come from the scoped queryset; the action checks the
        scope again and claims each row with a conditional UPDATE."""
        apply_each(
            self,
            request,
            queryset,
            lambda enrollment: action(
                enrollment_id=enrollment.pk, reviewer=request.user
            ),
            success=f"{done_label} {{done}} 条参保记录。",
            label=lambda enrollment: f"#{enrollment.pk}",
            level=messages.WARNING,
        )

    @admin.display(description="会员")
    def member_masked(self, obj: Enrollment) -> str:
        return obj.member.name_masked

    @admin.display(description="所属工会")
    def org_name(self, obj: Enrollment) -> str:
        return obj.member.org.name

    def get_urls(self):
        return [
            path(
                "dashboard/",
                self.admin_site.admin_view(self.dashboard_view),
                name="services_enrollment_dashboard",
            ),
            *super().get_urls(),
        ]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        rows = program_dashboard_rows(
            enrollments=self.get_queryset(request), request=request
        )
        return TemplateResponse(
            request,
            "admin/services/enrollment/dashboard.html",
            {
                **self.admin_site.each_context(request),
                "title": "保障计划统计",
                "opts": self.model._meta,
                "rows": rows,
                "chart": chart_bars(rows),
                "statuses": STATUS_COLOURS,
            },
        )


STATUS_COLOURS = [
    (EnrollmentStatus.ACTIVE.value, EnrollmentStatus.ACTIVE.label, "#2e7d32"),
    (
        EnrollmentStatus.NEEDS_REVIEW.value,
        EnrollmentStatus.NEEDS_REVIEW.label,
        "#ef6c00",
    ),
    (EnrollmentStatus.LAPSED.value, EnrollmentStatus.LAPSED.label, "#c62828"),
    (EnrollmentStatus.ENDED.value, EnrollmentStatus.ENDED.label, "#78909c"),
    (EnrollmentStatus.WITHDRAWN.value, EnrollmentStatus.WITHDRAWN.label, "#f9a825"),
]


def program_dashboard_rows(
    *, enrollments: QuerySet[Enrollment], request: HttpRequest
) -> list[dict]:
    """Per program: enrollment counts by status (within the caller's scope) and,
    for anonymous programs, how many members in scope qualify today (computed
    set-based from program_failures_sql)."""
    counts: dict[int, dict[str, int]] = {}
    for row in enrollments.values("program_id", "status").annotate(n=Count("id")):
        counts.setdefault(row["program_id"], {})[row["status"]] = row["n"]
    today = timezone.localdate()
    rows = []
    for program in Program.objects.prefetch_related(programs_with_rules()).order_by(
        "id"
    ):
        by_status = counts.get(program.pk, {})
        rows.append(
            {
                "program": program,
                "counts": [by_status.get(code, 0) for code, _, _ in STATUS_COLOURS],
                "total": sum(by_status.values()),
                "covered_anonymous": (
                    anonymous_covered_count(program=program, on=today, request=request)
                    if program.enrollment_mode == EnrollmentMode.ANONYMOUS
                    else None
                ),
            }
        )
    return rows


def anonymous_covered_count(*, program: Program, on, request: HttpRequest) -> int:
    reasons, params = program_reasons_expression(program=program, on=on)
    member_table = Member._meta.db_table
    org_table = UnionOrg._meta.db_table
    scope = ""
    scope_params: list = []
    if not request.user.is_superuser:
        org = getattr(request.user, "org", None)
        if org is None:
            return 0
        scope = " AND o.path LIKE %s"
        scope_params = [org.path + "%"]
    sql = (
        f"SELECT COUNT(*) FROM {member_table} m"  # noqa: S608
        f" JOIN {org_table} o ON o.id = m.org_id WHERE 1 = 1{scope}"
        f" AND {reasons} = ''"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*scope_params, *params])
        return cursor.fetchone()[0]


BAR_WIDTH = 300
ROW_HEIGHT = 34
LABEL_WIDTH = 90


def chart_bars(rows: list[dict]) -> dict:
    """Geometry for a server-rendered SVG stacked bar chart (no JS, no style
    attributes: colours are SVG presentation attributes)."""
    largest = max([row["total"] for row in rows] + [1])
    bars = []
    for index, row in enumerate(rows):
        y = index * ROW_HEIGHT + 6
        x = LABEL_WIDTH
        segments = []
        for (code, label, colour), count in zip(
            STATUS_COLOURS, row["counts"], strict=True
        ):
            width = round(BAR_WIDTH * count / largest, 1)
            if count:
                segments.append(
                    {
                        "x": x,
                        "width": max(width, 1),
                        "colour": colour,
                        "label": label,
                        "count": count,
                        "code": code,
                    }
                )
            x += width
        bars.append(
            {
                "name": row["program"].name,
                "y": y,
                "text_y": y + 15,
                "segments": segments,
                "total": row["total"],
                "total_x": x + 6,
            }
        )
    return {
        "bars": bars,
        "height": len(rows) * ROW_HEIGHT + 12,
        "width": LABEL_WIDTH + BAR_WIDTH + 70,
        "bar_height": 20,
    }
