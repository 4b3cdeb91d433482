from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from members.actions.api_keys import platform_key_revoke
from members.admin_mixins import OrgScopedAdminMixin, ReadOnlyAdminMixin
from members.models import (
    AuditLog,
    Member,
    Platform,
    PlatformApiKey,
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


@admin.register(PlatformApiKey)
class PlatformApiKeyAdmin(admin.ModelAdmin):
    """Keys are issued with `manage.py issue_platform_key` (the plaintext is shown
    once there); the admin lists them and revokes them."""

    list_display = (
        "platform",
        "name",
        "prefix",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    list_filter = ("platform",)
    search_fields = ("prefix", "name", "platform__code", "platform__name")
    list_select_related = ("platform",)
    readonly_fields = (
        "platform",
        "name",
        "prefix",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    exclude = ("hashed_secret",)
    actions = ["revoke_keys"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="撤销所选密钥", permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet) -> None:
        revoked = sum(
            platform_key_revoke(key=key, actor=request.user) for key in queryset
        )
        self.message_user(request, f"已撤销 {revoked} 个密钥。")
