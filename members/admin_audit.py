"""Admin additions, changes and deletions in the audit log (security.md LG1/LG2).

Django writes admin changes to `django_admin_log` (LogEntry) through three
ModelAdmin methods: `log_addition`, `log_change` and `log_deletions` (the last
one is called by the delete page and by the bulk "delete selected" action, before
the delete). `AuditedAdminMixin` overrides them to write an `AuditLog` row as
well, with the conventions of every other audit row: actor and role, client IP
and request id (`portal.request_context`), action `admin_add` / `admin_change` /
`admin_delete`, object type (`app_label.model`) and id, outcome, and the member
the object belongs to when it has one. Only field *names* are recorded (LogEntry's
`change_message` and `object_repr` are never copied: they can hold personal data).

Nobody has to opt in: `PortalAdminSite.register` (members/admin_site.py) puts the
mixin first in the MRO of every admin class registered on the site, including
third-party ones (auth groups, beat schedules, axes) and any registered later, so
an admin's own override of a log method cannot skip the audit row either.
`tests/members/test_admin_audit.py` fails if a registered admin bypasses it.

Admin actions other than "delete selected" often change rows with
`queryset.update()` and log nothing (django-celery-beat's enable/disable/run
tasks, for one); `get_actions` wraps every action so that one that completes
(returns nothing or a redirect, not an intermediate page or a file) writes one
`admin_action` row per selected object: `detail.name` is the action, ids
only. An action that wrote audit rows of its own through `members.audit`
(our approve, reject, verify, revoke, reset ...: `audit_rows_written`, rows
that still exist afterwards) gets no `admin_action` rows: its specific rows
are the one record of what it did, never two.

Import-export imports log through LogEntry directly, not through these methods,
so `generate_log_entries` (django-import-export's hook) is covered too: one row
per imported, updated or deleted object, `detail.via = "import"`.

No model imports at module level: the admin site class imports this module
before the app registry is ready.
"""

from __future__ import annotations

import functools
from typing import Any

ACTION_ADD = "admin_add"
ACTION_CHANGE = "admin_change"
ACTION_DELETE = "admin_delete"
ACTION_RUN = "admin_action"

# construct_change_message() runs after the save and right before log_addition /
# log_change for the same object (change form, list_editable rows, the user
# admin's password form); it leaves the changed field names here.
_PENDING_ATTR = "_audit_admin_changes"


def _changed_names(form, formsets) -> dict[str, Any]:
    """Field names only, never values (LG2): the form's changed fields and, per
    inline formset, the ids of added, changed (with their field names) and
    deleted rows."""
    summary: dict[str, Any] = {"fields": sorted(form.changed_data)}
    related = []
    for formset in formsets or ():
        model = formset.model
        pk_name = model._meta.pk.name
        entry: dict[str, Any] = {"type": model._meta.label_lower}
        added = [str(obj.pk) for obj in formset.new_objects]
        changed = {
            str(obj.pk): sorted(fields) for obj, fields in formset.changed_objects
        }
        # Deleted instances have lost their pk by now; the posted pk is the id.
        deleted = [
            str(f[pk_name].data) for f in formset.deleted_forms if pk_name in f.fields
        ]
        if added:
            entry["added"] = added
        if changed:
            entry["changed"] = changed
        if deleted:
            entry["deleted"] = deleted
        if len(entry) > 1:
            related.append(entry)
    if related:
        summary["related"] = related
    return summary


def _member_id(obj) -> int | None:
    """The member an object is about: the member itself, or its `member` FK."""
    if obj._meta.label_lower == "members.member":
        return obj.pk
    value = getattr(obj, "member_id", None)
    return value if isinstance(value, int) else None


def _actor(request):
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _row(request, obj, action: str, detail: dict):
    from members.audit import audit_row

    return audit_row(
        action=action,
        actor=_actor(request),
        object_type=obj._meta.label_lower,
        object_id=obj.pk,
        member_id=_member_id(obj),
        detail=detail,
    )


def _audited_action(func, name: str):
    """The admin action `func`, writing an `admin_action` row per selected
    object once it completed (None or a redirect). An intermediate page (a
    confirmation or reason form: status 200) or a file answer writes nothing,
    and neither does an action that wrote its own audit rows (still there once
    it returned: a row of a rolled-back transaction does not count)."""

    @functools.wraps(func)
    def action(modeladmin, request, queryset):
        from django.http.response import HttpResponseRedirectBase

        from members.audit import audit_row, audit_rows_written
        from members.models import AuditLog

        ids = list(queryset.values_list("pk", flat=True))
        with audit_rows_written() as own_rows:
            response = func(modeladmin, request, queryset)
        audited_itself = bool(own_rows) and (
            AuditLog.objects.filter(pk__in=own_rows).exists()
        )
        if not audited_itself and (
            response is None or isinstance(response, HttpResponseRedirectBase)
        ):
            opts = modeladmin.model._meta
            is_member = opts.label_lower == "members.member"
            detail = {"via": "admin", "name": name, "count": len(ids)}
            AuditLog.objects.bulk_create(
                [
                    audit_row(
                        action=ACTION_RUN,
                        actor=_actor(request),
                        object_type=opts.label_lower,
                        object_id=pk,
                        member_id=pk if is_member else None,
                        detail=detail,
                    )
                    for pk in ids
                ]
            )
        return response

    action.audited_admin_action = True
    return action


class AuditedAdminMixin:
    """Writes an AuditLog row for each admin addition, change and deletion, in
    the transaction of the change (the add/change/delete pages run atomic)."""

    def construct_change_message(self, request, form, formsets, add=False):
        message = super().construct_change_message(request, form, formsets, add)
        instance = getattr(form, "instance", None) or getattr(form, "user", None)
        setattr(request, _PENDING_ATTR, (instance, _changed_names(form, formsets)))
        return message

    def _audit_single(self, request, obj, action: str) -> None:
        detail: dict[str, Any] = {"via": "admin"}
        pending = getattr(request, _PENDING_ATTR, None)
        if pending is not None:
            instance, summary = pending
            if instance is None or instance is obj:
                detail.update(summary)
            delattr(request, _PENDING_ATTR)
        _row(request, obj, action, detail).save(force_insert=True)

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        self._audit_single(request, obj, ACTION_ADD)
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        self._audit_single(request, obj, ACTION_CHANGE)
        return entry

    def log_deletions(self, request, queryset):
        # Called before the delete; iterating a QuerySet caches it, so the
        # default implementation (and the delete) see the same rows.
        objects = list(queryset)
        entries = super().log_deletions(request, queryset)
        if objects:
            from members.models import AuditLog

            detail = {"via": "admin", "count": len(objects)}
            AuditLog.objects.bulk_create(
                [_row(request, obj, ACTION_DELETE, detail) for obj in objects]
            )
        return entries

    def get_actions(self, request):
        actions = super().get_actions(request)
        return {
            key: (
                func
                if key == "delete_selected"  # admin_delete rows, per object
                or getattr(func, "audited_admin_action", False)
                else _audited_action(func, key),
                name,
                description,
            )
            for key, (func, name, description) in actions.items()
        }

    def generate_log_entries(self, result, request):
        """django-import-export's ImportMixin hook, after a confirmed import."""
        from import_export.results import RowResult

        super().generate_log_entries(result, request)  # type: ignore[misc]
        actions = {
            RowResult.IMPORT_TYPE_NEW: ACTION_ADD,
            RowResult.IMPORT_TYPE_UPDATE: ACTION_CHANGE,
            RowResult.IMPORT_TYPE_DELETE: ACTION_DELETE,
        }
        from members.audit import audit_row
        from members.models import AuditLog

        object_type = self.model._meta.label_lower
        rows = []
        for row in result:
            action = actions.get(row.import_type)
            if action is None:
                continue
            instance = getattr(row, "instance", None)
            rows.append(
                audit_row(
                    action=action,
                    actor=_actor(request),
                    object_type=object_type,
                    object_id=row.object_id,
                    member_id=_member_id(instance) if instance is not None else None,
                    detail={"via": "import"},
                )
            )
        AuditLog.objects.bulk_create(rows)


_AUDITED: dict[type, type] = {}


def audited(admin_class: type) -> type:
    """`admin_class` with AuditedAdminMixin first in its MRO (the same class if
    it already has it). The subclass keeps the name, module and docstring."""
    if issubclass(admin_class, AuditedAdminMixin):
        return admin_class
    wrapped = _AUDITED.get(admin_class)
    if wrapped is None:
        wrapped = type(
            admin_class.__name__,
            (AuditedAdminMixin, admin_class),
            {
                "__module__": admin_class.__module__,
                "__qualname__": admin_class.__qualname__,
                "__doc__": admin_class.__doc__,
            },
        )
        _AUDITED[admin_class] = wrapped
    return wrapped
