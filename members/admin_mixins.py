"""Admin building blocks shared by every app: union-subtree scoping (AC4)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from portal.exceptions import ApplicationError


def scoped_choices(admin_site, request: HttpRequest, model) -> QuerySet | None:
    """The rows of `model` this staff user may pick in a form: its admin's queryset
    when that admin is union-scoped (`org_scoped`), else None (no limit)."""
    related = admin_site._registry.get(model)
    if related is None or not getattr(related, "org_scoped", False):
        return None
    return related.get_queryset(request)


class ScopedChoicesAdminMixin:
    """Foreign-key and many-to-many choices (selects, raw-id and autocomplete
    fields) come from the related admin's scoped queryset, so a posted id of an
    org, member or station outside the staff user's subtree is an invalid
    choice, not a way to move a row out of (or into) someone else's subtree.
    Django itself validates these fields against every row of the model."""

    def _scope_choices(self, db_field, request, kwargs: dict) -> dict:
        if "queryset" not in kwargs:
            queryset = scoped_choices(self.admin_site, request, db_field.related_model)
            if queryset is not None:
                kwargs["queryset"] = queryset
        return kwargs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs = self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs = self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class DeniedObjectAuditMixin:
    """An admin URL for an object that exists but lies outside the staff user's
    subtree answers like a missing one (Django redirects with "does not exist"),
    and leaves an `authz_denied` audit row (security.md LG1), so probing other
    unions' records is visible. Needs a scoped get_queryset."""

    def get_object(self, request: HttpRequest, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if obj is None and not request.user.is_superuser:
            model = self.model  # type: ignore[attr-defined]
            field = (
                model._meta.pk
                if from_field is None
                else model._meta.get_field(from_field)
            )
            try:
                exists = model._default_manager.filter(
                    **{field.name: field.to_python(object_id)}
                ).exists()
            except (ValidationError, ValueError, TypeError):
                exists = False
            if exists:
                from members.audit import audit_record
                from members.models import AuditLog

                audit_record(
                    action="authz_denied",
                    actor=request.user,
                    outcome=AuditLog.Outcome.DENIED,
                    object_type=model._meta.label_lower,
                    object_id=object_id,
                    detail={"reason": "out_of_scope", "path": request.path[:200]},
                )
        return obj


class OrgScopedAdminMixin(DeniedObjectAuditMixin, ScopedChoicesAdminMixin):
    """Limit an admin's rows to the staff user's union subtree.

    `org_path_lookup` names the path of the row's union org, e.g. "org__path" or
    "member__org__path". Lists, search, change pages, deletes and autocomplete all
    go through get_queryset, so an out-of-scope object is simply not found; the
    choices in this admin's forms are scoped the same way (ScopedChoicesAdminMixin).
    """

    org_scoped = True
    org_path_lookup = "org__path"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request)  # type: ignore[misc]
        user = request.user
        if user.is_superuser:
            return qs
        org = getattr(user, "org", None)
        if org is None:
            return qs.none()
        return qs.filter(**{f"{self.org_path_lookup}__startswith": org.path})


class MaskedIdentityColumnsMixin:
    """Admin columns for a row with `name`, `id_number` and `phone`: only masked
    forms ever reach the page (security.md section 3). Lists show the ID as first
    1 + last 1; a reviewer's detail view may show first 6 + last 4."""

    @admin.display(description="姓名")
    def name_masked(self, obj) -> str:
        return obj.name_masked

    @admin.display(description="身份证号")
    def id_masked(self, obj) -> str:
        return obj.id_number_masked

    @admin.display(description="身份证号(审核)")
    def id_reviewer(self, obj) -> str:
        from portal.masking import mask_id_number_for_reviewer

        return mask_id_number_for_reviewer(obj.id_number)

    @admin.display(description="手机号")
    def phone_masked(self, obj) -> str:
        return obj.phone_masked


class ReadOnlyAdminMixin:
    """For append-only records (audit rows, outcomes written by actions)."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


__all__ = [
    "DeniedObjectAuditMixin",
    "MaskedIdentityColumnsMixin",
    "OrgScopedAdminMixin",
    "ReadOnlyAdminMixin",
    "ScopedChoicesAdminMixin",
    "scoped_choices",
    "admin",
]


def apply_each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    items: Iterable,
    call: Callable[[object], object],
    *,
    success: str,
    label: Callable[[object], str] = str,
    level: int = messages.ERROR,
) -> int:
    """An admin action's per-row loop: `call(item)` for each selected row (each
    action checks scope and state itself); an ApplicationError becomes a message
    naming the row, and `success` (with `{done}`) is shown when any row went
    through. Returns how many did."""
    done = 0
    for item in items:
        try:
            call(item)
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{label(item)}:{exc.message}", level)
        else:
            done += 1
    if done:
        # replace, not format: `success` may name a user, whose text is not ours
        text = success.replace("{done}", str(done))
        modeladmin.message_user(request, text, messages.SUCCESS)
    return done
