from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from members.actions.api_keys import (
    platform_key_issue,
    platform_key_revoke,
    platform_networks_set,
)
from members.actions.cases import (
    assignable_staff,
    case_assign,
    case_assignment_active,
    case_unassign,
)
from members.actions.joining import application_approve, application_reject
from members.actions.mfa import staff_totp_reset
from members.actions.notifications import notifications_requeue_dead
from members.actions.orgs import union_org_create
from members.actions.people import data_request_process, member_sensitive_reveal
from members.admin_mixins import (
    DeniedObjectAuditMixin,
    MaskedIdentityColumnsMixin,
    OrgScopedAdminMixin,
    ReadOnlyAdminMixin,
    ScopedChoicesAdminMixin,
    apply_each,
)
from members.admin_search import BlindIndexSearchMixin
from members.forms import CaseAssignForm, ReasonForm, RevealForm
from members.ip_allowlist import normalize_networks, split_networks
from members.models import (
    AuditLog,
    CaseAssignment,
    ConsentRecord,
    DataRequest,
    DataRequestStatus,
    Member,
    MembershipApplication,
    MembershipEvent,
    Notification,
    NotificationStatus,
    Platform,
    PlatformApiKey,
    PlatformApiUsage,
    PlatformRider,
    RegionCode,
    StaffTotpDevice,
    UnionOrg,
    User,
)
from members.selectors.joining import region_code_warnings, region_name
from members.validators import credit_code_warnings, normalize_credit_code
from portal.exceptions import ApplicationError
from portal.masking import mask_phone

# Staff TOTP devices (StaffTotpDevice) have no admin: their secrets are never
# shown, and no one may add a device for another user. Devices are managed only
# by the TOTP step and the superuser reset action below. (django-otp's otp_totp
# plugin, whose admin showed secrets, is not installed.)


@admin.register(User)
class UserAdmin(DeniedObjectAuditMixin, ScopedChoicesAdminMixin, DjangoUserAdmin):
    """Accounts in the staff user's subtree.

    Django lets anyone with `change_user` make any account, their own included, a
    superuser or give it any permission. Here only a superuser may do that: others
    never see superuser accounts, cannot touch `is_superuser` or direct
    permissions, may hand out only groups whose permissions they hold themselves,
    and cannot change their own staff status, groups or union."""

    org_scoped = True
    list_display = (
        "username",
        "phone_display",
        "org",
        "is_staff",
        "totp_enabled",
        "is_active",
    )
    actions = ["reset_totp"]
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

    @admin.display(description="两步验证", boolean=True)
    def totp_enabled(self, obj: User) -> bool:
        return obj.has_totp

    def has_reset_totp_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    @admin.action(
        description="重置两步验证设备(下次登录重新绑定)",
        permissions=["reset_totp"],
    )
    def reset_totp(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = 0
        for user in queryset:
            count += staff_totp_reset(actor=request.user, user=user)
        self.message_user(
            request,
            f"已重置 {queryset.count()} 个账号的两步验证设备(删除 {count} 个设备)。",
            messages.SUCCESS,
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        qs = (
            super()
            .get_queryset(request)
            .annotate(
                has_totp=Exists(
                    StaffTotpDevice.objects.filter(
                        user_id=OuterRef("pk"), confirmed=True
                    )
                )
            )
        )
        if request.user.is_superuser:
            return qs
        org = request.user.org
        if org is None:
            return qs.none()
        return qs.filter(org__path__startswith=org.path, is_superuser=False)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return fields
        fields += ("is_superuser", "user_permissions")
        if obj is not None and obj.pk == request.user.pk:
            fields += ("is_staff", "is_active", "groups", "org")
        return fields

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups" and not request.user.is_superuser:
            held = Permission.objects.filter(
                Q(user=request.user) | Q(group__user=request.user)
            )
            kwargs["queryset"] = Group.objects.exclude(
                permissions__in=Permission.objects.exclude(pk__in=held)
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class UnionOrgForm(forms.ModelForm):
    """GB 32100 credit code: format and check character are errors (BR-V4);
    authority, region and the grassroots `81` prefix are warnings (BR-V4/V5),
    shown after saving. Region codes unknown to the table are warnings (BR-V3)."""

    class Meta:
        model = UnionOrg
        fields = (
            "name",
            "level",
            "kind",
            "parent",
            "region_code",
            "credit_code",
            "is_gig_pool",
            "is_active",
        )

    def clean_credit_code(self) -> str:
        value = self.cleaned_data.get("credit_code") or ""
        return normalize_credit_code(value) if value.strip() else ""

    def clean_region_code(self) -> str:
        value = (self.cleaned_data.get("region_code") or "").strip()
        if len(value) != 6 or not value.isdigit():
            raise ValidationError("行政区划代码应为6位数字。")
        return value

    def warnings(self) -> list[str]:
        data = self.cleaned_data
        found = region_code_warnings(
            code=data["region_code"], today=timezone.localdate()
        )
        if data.get("region_code") == "100000":
            found = []
        if data.get("credit_code"):
            found += credit_code_warnings(
                data["credit_code"], grassroots_union=data.get("kind") == "grassroots"
            )
        return found


@admin.register(UnionOrg)
class UnionOrgAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    form = UnionOrgForm
    org_path_lookup = "path"
    list_display = (
        "name",
        "level",
        "kind",
        "region_code",
        "region_display",
        "parent",
        "is_gig_pool",
    )
    list_filter = ("level", "kind", "is_gig_pool", "is_active")
    search_fields = ("name", "region_code", "credit_code")
    list_select_related = ("parent",)
    raw_id_fields = ("parent",)
    readonly_fields = ("path",)

    @admin.display(description="区划名称")
    def region_display(self, obj: UnionOrg) -> str:
        return region_name(code=obj.region_code) or "—"

    def get_readonly_fields(self, request, obj=None):
        # Moving an org would need its whole subtree's paths rewritten.
        return ("path", "parent") if obj else ("path",)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            data = form.cleaned_data
            created = union_org_create(
                name=data["name"],
                level=data["level"],
                kind=data["kind"],
                region_code=data["region_code"],
                parent=data.get("parent"),
                credit_code=data.get("credit_code") or "",
                is_gig_pool=data.get("is_gig_pool") or False,
            )
            obj.pk = created.pk
            obj.path = created.path
        for warning in form.warnings():
            self.message_user(request, warning, messages.WARNING)


@admin.register(RegionCode)
class RegionCodeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "valid_from", "valid_to")
    search_fields = ("code", "name")
    list_filter = ("valid_to",)


class PlatformApiKeyInline(admin.TabularInline):
    model = PlatformApiKey
    extra = 0
    can_delete = False
    fields = (
        "prefix",
        "name",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class NetworkListField(forms.CharField):
    """A text box of networks, one per line (commas and spaces also separate),
    cleaned to the canonical CIDR list (security.md AP2): a malformed entry or
    one with host bits set is a form error naming the entry."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 5, "cols": 45}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(value)
        return value

    def to_python(self, value):
        return normalize_networks(split_networks(super().to_python(value)))


class PlatformForm(forms.ModelForm):
    allowed_networks = NetworkListField(
        label="接口调用IP白名单",
        required=False,
        help_text=(
            "每行一个IPv4/IPv6地址或网段(CIDR),如 203.0.113.0/24、2001:db8:1::/48。"
            "留空 = 该平台的所有接口调用被拒绝(403)。"
            "任意地址须明确写 0.0.0.0/0 和 ::/0。"
            "主机位不为零的网段(如 10.1.2.3/24)会被拒绝,请写成网段地址或 /32。"
        ),
    )

    class Meta:
        model = Platform
        fields = (
            "code",
            "name",
            "credit_code",
            "occupations",
            "is_active",
            "allowed_networks",
        )


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    form = PlatformForm
    list_display = (
        "name",
        "code",
        "credit_code",
        "is_active",
        "networks_display",
        "created_at",
    )
    list_filter = ("is_active",)
    search_fields = ("name", "code", "credit_code")
    readonly_fields = ("created_at",)
    inlines = [PlatformApiKeyInline]
    actions = ("issue_key",)

    @admin.display(description="IP白名单")
    def networks_display(self, obj: Platform) -> str:
        networks = obj.allowed_networks or []
        if not networks:
            return "未设置(拒绝所有调用)"
        shown = ", ".join(networks[:3])
        return shown if len(networks) <= 3 else f"{shown} 等{len(networks)}项"

    def save_model(self, request, obj, form, change):
        # The allow-list goes through its action (validated again, audited with
        # the lists before and after); the rest is an ordinary save.
        networks = list(obj.allowed_networks or [])
        obj.allowed_networks = (
            Platform.objects.values_list("allowed_networks", flat=True).get(pk=obj.pk)
            if change
            else []
        )
        super().save_model(request, obj, form, change)
        platform_networks_set(platform=obj, networks=networks, actor=request.user)

    @admin.action(description="签发新的API密钥(只显示一次)", permissions=["change"])
    def issue_key(self, request: HttpRequest, queryset: QuerySet):
        issued = [
            (
                platform,
                platform_key_issue(
                    platform_code=platform.code, actor=request.user
                ).plaintext,
            )
            for platform in queryset
        ]
        response = TemplateResponse(
            request,
            "admin/members/platform/issued_keys.html",
            {
                **self.admin_site.each_context(request),
                "title": "新签发的API密钥",
                "opts": self.model._meta,
                "issued": issued,
            },
        )
        response["Cache-Control"] = "no-store"
        return response


@admin.register(PlatformApiUsage)
class PlatformApiUsageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Per-minute request counts per key and endpoint (read-only; docs/api.md)."""

    list_display = (
        "minute",
        "key",
        "method",
        "endpoint",
        "requests",
        "errors",
        "refused",
    )
    list_filter = ("key__platform", "method", "endpoint")
    list_select_related = ("key__platform",)
    date_hierarchy = "minute"
    fields = list_display
    readonly_fields = list_display


@admin.register(PlatformApiKey)
class PlatformApiKeyAdmin(admin.ModelAdmin):
    list_display = (
        "platform",
        "prefix",
        "name",
        "created_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("platform",)
    list_select_related = ("platform",)
    search_fields = ("prefix", "platform__code", "platform__name")
    fields = (
        "platform",
        "prefix",
        "name",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    readonly_fields = fields
    actions = ("revoke_selected",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Keys are issued by the Platform action or `manage.py issue_platform_key`.
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="吊销所选密钥", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = sum(
            platform_key_revoke(key=key, actor=request.user) for key in queryset
        )
        self.message_user(request, f"已吊销 {count} 个密钥。", messages.SUCCESS)


class MembershipEventInline(admin.TabularInline):
    model = MembershipEvent
    fk_name = "member"
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "from_status", "to_status", "org", "note", "actor")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Member)
class MemberAdmin(
    MaskedIdentityColumnsMixin,
    BlindIndexSearchMixin,
    OrgScopedAdminMixin,
    admin.ModelAdmin,
):
    list_display = (
        "name_masked",
        "id_masked",
        "phone_masked",
        "occupation",
        "org",
        "status",
        "member_no",
    )
    list_filter = ("status", "occupation", ("org", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("org",)
    search_fields = ("member_no",)
    fields = (
        "name_masked",
        "id_reviewer",
        "phone_masked",
        "birth_date",
        "gender",
        "occupation",
        "employment_category",
        "hukou_county",
        "residence_county",
        "org",
        "status",
        "member_no",
        "joined_on",
        "left_at",
        "anonymised_at",
        "reminders_opt_out",
        "user",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "name_masked",
        "id_reviewer",
        "phone_masked",
        "birth_date",
        "gender",
        "status",
        "member_no",
        "joined_on",
        "left_at",
        "anonymised_at",
        "user",
        "created_at",
        "updated_at",
    )
    raw_id_fields = ("org",)
    inlines = [MembershipEventInline]
    change_form_template = "admin/members/member/change_form.html"
    actions = ("assign_case",)

    def has_assign_case_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("members.assign_case")

    @admin.action(description="分配给审核员", permissions=["assign_case"])
    def assign_case(self, request: HttpRequest, queryset: QuerySet):
        """Assign one reviewer (with `members.view_sensitive`, in the actor's
        subtree, never the actor unless a superuser) to the selected members'
        cases (security.md AC5). Each assignment writes a `case_assign` row."""
        staff_queryset = assignable_staff(actor=request.user)
        if "apply" in request.POST:
            form = CaseAssignForm(request.POST, staff_queryset=staff_queryset)
        else:
            form = CaseAssignForm(staff_queryset=staff_queryset)
        if not form.is_valid():
            return _action_form_page(
                self,
                request,
                queryset,
                action="assign_case",
                title="分配给审核员",
                form=form,
            )
        staff = form.cleaned_data["staff"]
        apply_each(
            self,
            request,
            queryset.select_related("org"),
            lambda member: case_assign(
                actor=request.user,
                staff=staff,
                member=member,
                reason=form.cleaned_data["reason"],
            ),
            success=f"已将 {{done}} 名会员的个案分配给 {staff}。",
        )
        return None

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Members come from approved applications and platform enrolment.
        return False

    def get_urls(self):
        return [
            path(
                "<path:object_id>/reveal/",
                self.admin_site.admin_view(self.reveal_view),
                name="members_member_reveal",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            # the reveal link only for a permitted reviewer assigned to the case
            "can_reveal": request.user.has_perm("members.view_sensitive")
            and str(object_id).isdigit()
            and CaseAssignment.objects.filter(
                staff_id=request.user.pk, member_id=object_id, ended_at__isnull=True
            ).exists(),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def reveal_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Show one full value with a reason; 404 outside the subtree, 403
        without `members.view_sensitive` or without an active case assignment
        (security.md AC5); every reveal attempt is audit-logged."""
        member = self.get_object(request, object_id)
        if member is None:
            raise Http404
        value = None
        field_label = ""
        if request.method == "POST":
            form = RevealForm(request.POST)
            if form.is_valid():
                try:
                    value = member_sensitive_reveal(
                        actor=request.user,
                        member=member,
                        field=form.cleaned_data["field"],
                        reason=form.cleaned_data["reason"],
                    )
                except ApplicationError as exc:
                    form.add_error(None, exc.message)
                field_label = dict(form.fields["field"].choices)[
                    form.cleaned_data["field"]
                ]
        else:
            if not request.user.has_perm(
                "members.view_sensitive"
            ) or not case_assignment_active(staff=request.user, member=member):
                raise PermissionDenied
            form = RevealForm()
        response = TemplateResponse(
            request,
            "admin/members/member/reveal.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": member,
                "title": "查看完整个人信息",
                "form": form,
                "value": value,
                "field_label": field_label,
                "change_url": reverse("admin:members_member_change", args=[member.pk]),
            },
        )
        response["Cache-Control"] = "no-store"
        return response


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


@admin.register(CaseAssignment)
class CaseAssignmentAdmin(OrgScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who is assigned to which member's case (security.md AC5). Rows are made
    by the member admin's "分配给审核员" action and ended here, never edited."""

    org_path_lookup = "member__org__path"
    list_display = (
        "member",
        "staff",
        "assigned_by",
        "assigned_at",
        "reason",
        "ended_at",
        "ended_by",
    )
    list_filter = (("ended_at", admin.EmptyFieldListFilter),)
    list_select_related = ("member", "staff", "assigned_by", "ended_by")
    actions = ("end_selected",)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(
            "members.assign_case"
        ) or super().has_view_permission(request, obj)

    def has_assign_case_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("members.assign_case")

    @admin.action(description="结束所选个案分配", permissions=["assign_case"])
    def end_selected(self, request: HttpRequest, queryset: QuerySet):
        step = _reason_step(
            self,
            request,
            queryset,
            action="end_selected",
            title="结束个案分配",
            label="结束原因",
        )
        if not isinstance(step, str):
            return step
        apply_each(
            self,
            request,
            queryset,
            lambda assignment: case_unassign(
                actor=request.user, assignment_id=assignment.pk, reason=step
            ),
            success="已结束 {done} 项分配。",
        )
        return None


def _reason_step(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    action: str,
    title: str,
    label: str,
):
    """The intermediate page of an admin action that needs a reason. Returns the
    reason once submitted, or a TemplateResponse to show first."""
    if "apply" in request.POST:
        form = ReasonForm(request.POST)
        if form.is_valid():
            return form.cleaned_data["reason"]
    else:
        form = ReasonForm()
    form.fields["reason"].label = label
    return _action_form_page(
        modeladmin, request, queryset, action=action, title=title, form=form
    )


def _action_form_page(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    action: str,
    title: str,
    form: forms.Form,
) -> TemplateResponse:
    """An admin action's intermediate page: the selection, then `form`."""
    return TemplateResponse(
        request,
        "admin/members/reason_action.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "opts": modeladmin.model._meta,
            "queryset": queryset,
            "form": form,
            "action": action,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        },
    )


@admin.register(MembershipApplication)
class MembershipApplicationAdmin(
    MaskedIdentityColumnsMixin,
    BlindIndexSearchMixin,
    OrgScopedAdminMixin,
    admin.ModelAdmin,
):
    list_display = (
        "name_masked",
        "id_masked",
        "phone_masked",
        "occupation",
        "org",
        "status",
        "submitted_at",
    )
    list_filter = ("status", "occupation", ("org", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("org",)
    search_fields = ()
    date_hierarchy = "submitted_at"
    actions = ("approve_selected", "reject_selected")
    fields = (
        "name_masked",
        "id_reviewer",
        "phone_masked",
        "birth_date",
        "gender",
        "occupation",
        "platform_names",
        "employment_category",
        "hukou_display",
        "residence_display",
        "org",
        "status",
        "submitted_at",
        "decided_at",
        "decided_by",
        "reject_reason",
        "member",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Drafts (never submitted, or consent withdrawn) are not for review.
        return super().get_queryset(request).exclude(status="draft")

    @admin.display(description="服务平台")
    def platform_names(self, obj: MembershipApplication) -> str:
        return "、".join(p.name for p in obj.platforms.all()) or "—"

    @admin.display(description="户籍地")
    def hukou_display(self, obj: MembershipApplication) -> str:
        name = region_name(code=obj.hukou_county) or "代码表中无此代码"
        return f"{obj.hukou_county} {name}"

    @admin.display(description="常住地")
    def residence_display(self, obj: MembershipApplication) -> str:
        return f"{obj.residence_county} {region_name(code=obj.residence_county)}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # The change page is view-only; decisions go through the actions below.
        if obj is not None:
            return False
        return super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="通过所选入会申请", permissions=["change"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        apply_each(
            self,
            request,
            queryset,
            lambda application: application_approve(
                application_id=application.pk, reviewer=request.user
            ),
            success="已通过 {done} 份申请。",
        )

    @admin.action(description="不通过所选入会申请(填写原因)", permissions=["change"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet):
        step = _reason_step(
            self,
            request,
            queryset,
            action="reject_selected",
            title="入会申请不通过",
            label="不通过原因(申请人可见)",
        )
        if not isinstance(step, str):
            return step
        apply_each(
            self,
            request,
            queryset,
            lambda application: application_reject(
                application_id=application.pk, reviewer=request.user, reason=step
            ),
            success="已退回 {done} 份申请。",
        )
        return None


@admin.register(ConsentRecord)
class ConsentRecordAdmin(OrgScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("purpose", "org", "channel", "granted_at", "withdrawn_at")
    list_filter = ("purpose", "channel", ("org", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("org",)
    fields = (
        "purpose",
        "notice_version",
        "channel",
        "org",
        "granted_at",
        "withdrawn_at",
    )
    readonly_fields = fields


@admin.register(MembershipEvent)
class MembershipEventAdmin(OrgScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "kind", "member", "org", "from_status", "to_status")
    list_filter = ("kind", ("org", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("member", "org")
    fields = (
        "created_at",
        "kind",
        "member",
        "application",
        "org",
        "from_status",
        "to_status",
        "note",
        "actor",
    )
    readonly_fields = fields


@admin.register(DataRequest)
class DataRequestAdmin(OrgScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "kind",
        "member",
        "org",
        "status",
        "created_at",
        "answer_due_display",
        "processed_at",
    )
    list_filter = ("status", "kind", ("org", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("member", "org")
    actions = ("mark_done", "answer_selected", "refuse_selected")
    fields = (
        "kind",
        "member",
        "org",
        "status",
        "note",
        "response",
        "created_at",
        "processed_at",
        "processed_by",
    )
    readonly_fields = fields

    @admin.display(description="答复期限")
    def answer_due_display(self, obj: DataRequest) -> str:
        """15 working days after the request; an open one past it is marked."""
        due = obj.answer_due.isoformat()
        if obj.is_overdue:
            return format_html('<strong class="overdue">{}(已超期)</strong>', due)
        return due if obj.status == DataRequestStatus.OPEN else "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None:
            return False
        return super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def _process(self, request, queryset, *, status: str, response: str) -> None:
        apply_each(
            self,
            request,
            queryset,
            lambda item: data_request_process(
                request_id=item.pk,
                staff=request.user,
                status=status,
                response=response,
            ),
            success="已处理 {done} 份申请。",
        )

    @admin.action(description="办结所选申请", permissions=["change"])
    def mark_done(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._process(
            request, queryset, status=DataRequestStatus.DONE, response="已办结"
        )

    @admin.action(description="答复并办结(填写答复)", permissions=["change"])
    def answer_selected(self, request: HttpRequest, queryset: QuerySet):
        """Done with a written answer, e.g. the explanation of an automated
        eligibility decision (kind `explanation`, PIPL art. 24)."""
        step = _reason_step(
            self,
            request,
            queryset,
            action="answer_selected",
            title="答复并办结",
            label="答复(申请人可见)",
        )
        if not isinstance(step, str):
            return step
        self._process(request, queryset, status=DataRequestStatus.DONE, response=step)
        return None

    @admin.action(description="不予办理(填写理由)", permissions=["change"])
    def refuse_selected(self, request: HttpRequest, queryset: QuerySet):
        step = _reason_step(
            self,
            request,
            queryset,
            action="refuse_selected",
            title="不予办理",
            label="理由(申请人可见)",
        )
        if not isinstance(step, str):
            return step
        self._process(
            request, queryset, status=DataRequestStatus.REFUSED, response=step
        )
        return None


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

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    change_list_template = "admin/members/auditlog/change_list.html"

    def get_urls(self):
        return [
            path(
                "retention/",
                self.admin_site.admin_view(self.retention_view),
                name="members_auditlog_retention",
            ),
            *super().get_urls(),
        ]

    def retention_view(self, request: HttpRequest) -> HttpResponse:
        """The retention schedule in force (security.md PI8), read-only: the
        periods come from settings/environment, not from the database."""
        from members.actions.retention import retention_categories

        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = [
            {
                "code": c.code,
                "label": c.label,
                "action": "匿名化" if c.action == "retention_anonymise" else "删除",
                "days": c.days,
                "setting": c.days_setting,
            }
            for c in retention_categories()
        ]
        return TemplateResponse(
            request,
            "admin/members/auditlog/retention.html",
            {
                **self.admin_site.each_context(request),
                "title": "个人信息保存期限",
                "opts": self.model._meta,
                "rows": rows,
                "chunk": settings.RETENTION_CHUNK,
            },
        )


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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
            who = obj.member.name_masked
        else:
            who = obj.user.username if obj.user_id else "—"
        if obj.to_phone:  # e.g. the old number told of a phone change
            return f"{who}(发往 {mask_phone(obj.to_phone)})"
        return who

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
