"""Writes for the members app (style.md §4.2): typed, keyword-only, atomic."""

from __future__ import annotations

from django.db import transaction

from members.models import UnionOrg


@transaction.atomic
def union_org_create(
    *,
    name: str,
    level: str,
    kind: str,
    region_code: str,
    parent: UnionOrg | None = None,
    credit_code: str = "",
    is_gig_pool: bool = False,
) -> UnionOrg:
    """Create an org and set its materialised path ("/<parent ids>/<id>/")."""
    org = UnionOrg(
        name=name,
        level=level,
        kind=kind,
        region_code=region_code,
        parent=parent,
        credit_code=credit_code,
        is_gig_pool=is_gig_pool,
    )
    org.full_clean(exclude=["path"])
    org.save()
    org.path = f"{parent.path if parent else '/'}{org.pk}/"
    org.save(update_fields=["path"])
    return org
