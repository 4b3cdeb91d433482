from __future__ import annotations

from django.db.models import QuerySet

from members.models import Member, User


def member_get_for_user(*, user: User) -> Member | None:
    if not user.is_authenticated:
        return None
    return Member.objects.select_related("org").filter(user=user).first()


def members_visible_to(*, user: User) -> QuerySet[Member]:
    """Staff see members of their union subtree; superusers all; others none."""
    if user.is_superuser:
        return Member.objects.all()
    if not user.is_staff or user.org_id is None:
        return Member.objects.none()
    return Member.objects.filter(org__path__startswith=user.org.path)
