from __future__ import annotations

from django.db.models import QuerySet

from members.models import UnionOrg, User


def org_subtree(*, org: UnionOrg) -> QuerySet[UnionOrg]:
    """The org and every org below it (materialised path prefix)."""
    return UnionOrg.objects.filter(path__startswith=org.path)


def orgs_visible_to(*, user: User) -> QuerySet[UnionOrg]:
    """Superusers see the whole tree; staff their org's subtree; others nothing."""
    if user.is_superuser:
        return UnionOrg.objects.all()
    if not user.is_staff or user.org_id is None:
        return UnionOrg.objects.none()
    return UnionOrg.objects.filter(path__startswith=user.org.path)
