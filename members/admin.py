from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from members.actions.notifications import notifications_requeue_dead
from members.admin_mixins import OrgScopedAdminMixin, ReadOnlyAdminMixin
from members.models import (
    AuditLog,
    Member,
    Notification,
    NotificationStatus,
    Platform,
    PlatformRider,
    UnionOrg,
    User,
)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "phone_display", "org", "is_staff", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("username",)
    list_select_related = ("org",)
    autocomplete_fields = ("org",)
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("工会", {"fields": ("org",)}),
    )

    @admin.display(description="手机号")
    def phone_display(self, obj: User) -> str:
        return obj.phone_masked

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        org = request.user.org
        if org is None:
            return qs.none()
        return qs.filter(org__path__startswith=org.path)


@admin.register(UnionOrg)
class UnionOrgAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    org_path_lookup = "path"
    list_display = ("name", "level", "kind", "region_code", "parent", "is_gig_pool")
    list_filter = ("level", "kind", "is_gig_pool", "is_active")
    search_fields = ("name", "region_code", "credit_code")
    list_select_related = ("parent",)
    raw_id_fields = ("parent",)
    readonly_fields = ("path",)


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "credit_code", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "code", "credit_code")
    readonly_fields = ("created_at",)


@admin.register(Member)
class MemberAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "name_masked",
        "id_masked",
        "phone_masked",
        "occupation",
        "org",
        "status",
        "member_no",
    )
    list_filter = ("status", "occupation", "org")
    list_select_related = ("org",)
    search_fields = ("member_no",)
    readonly_fields = ("created_at", "updated_at")
    exclude = ("id_number", "phone")
    raw_id_fields = ("user", "org")

    @admin.display(description="姓名")
    def name_masked(self, obj: Member) -> str:
        return obj.name_masked

    @admin.display(description="身份证号")
    def id_masked(self, obj: Member) -> str:
        return obj.id_number_masked

    @admin.display(description="手机号")
    def phone_masked(self, obj: Member) -> str:
        return obj.phone_masked


@admin.register(PlatformRider)
class PlatformRiderAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    org_path_lookup = "member__org__path"
    list_display = (
        "platform",
        "platform_rider_id",
        "member",
        "joined_platform_on",
        "offboarded_on",
    )
    list_filter = ("platform",)
    search_fields = ("platform_rider_id",)
    list_select_related = ("platform", "member")
    raw_id_fields = ("member",)


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "actor",
        "actor_role",
        "action",
        "object_type",
        "object_id",
        "field",
        "outcome",
        "ip",
    )
    list_filter = ("action", "outcome", "actor_role")
    search_fields = ("action", "object_id", "request_id")
    list_select_related = ("actor",)
    date_hierarchy = "created_at"

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        # Separation of duties (security.md AC8): only auditors read the log.
        return request.user.has_perm("members.view_auditlog_all")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The outbox, read-only, with the dead-letter list (filter 状态 = 发送失败) and
    its count above the list; staff can put dead letters back into the queue."""

    list_display = (
        "id",
        "template_code",
        "channel",
        "category",
        "recipient",
        "status",
        "attempts",
        "due_at",
        "sent_at",
        "last_error",
    )
    list_filter = ("status", "channel", "category", "template_code")
    search_fields = ("dedupe_key", "template_code")
    list_select_related = ("member", "user")
    date_hierarchy = "due_at"
    actions = ("requeue_dead",)
    change_list_template = "admin/members/notification/change_list.html"
    fields = (
        "template_code",
        "channel",
        "category",
        "recipient",
        "params",
        "dedupe_key",
        "due_at",
        "status",
        "attempts",
        "claimed_at",
        "gateway_started_at",
        "sent_at",
        "last_error",
        "read_at",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="接收人")
    def recipient(self, obj: Notification) -> str:
        if obj.member_id:
            return obj.member.name_masked
        return obj.user.username if obj.user_id else "—"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notification]:
        qs = super().get_queryset(request)
        user = request.user
        if user.is_superuser:
            return qs
        if user.org is None:
            return qs.none()
        path = user.org.path
        return qs.filter(
            Q(member__org__path__startswith=path)
            | Q(user__org__path__startswith=path)
            | Q(user__member__org__path__startswith=path)
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        dead = self.get_queryset(request).filter(status=NotificationStatus.DEAD).count()
        return super().changelist_view(
            request, {**(extra_context or {}), "dead_letter_count": dead}
        )

    @admin.action(description="将选中的发送失败通知重新排队", permissions=["view"])
    def requeue_dead(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = notifications_requeue_dead(
            ids=list(queryset.values_list("pk", flat=True)), actor=request.user
        )
        self.message_user(request, f"已重新排队 {count} 条。")
