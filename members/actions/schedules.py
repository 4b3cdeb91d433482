"""Seeding django-celery-beat from portal/schedules.py (idempotent)."""

from __future__ import annotations

import json

from django.db import transaction

CRONTAB_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
TIMEZONE = "Asia/Shanghai"


@transaction.atomic
def schedules_sync(*, schedules: list[dict] | None = None, apps=None) -> list[str]:
    """Create each missing PeriodicTask (by name) with its CrontabSchedule in
    Asia/Shanghai. Never updates an existing PeriodicTask, so what staff changed in
    the admin stays. `apps` lets a data migration pass its historical registry.
    Returns the names created."""
    if schedules is None:
        from portal.schedules import DEFAULT_SCHEDULES

        schedules = DEFAULT_SCHEDULES
    if apps is None:
        from django_celery_beat.models import CrontabSchedule, PeriodicTask
    else:
        CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")  # noqa: N806
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")  # noqa: N806
    created = []
    for entry in schedules:
        if PeriodicTask.objects.filter(name=entry["name"]).exists():
            continue
        fields = {key: str(entry["crontab"].get(key, "*")) for key in CRONTAB_FIELDS}
        crontab = CrontabSchedule.objects.filter(timezone=TIMEZONE, **fields).first()
        if crontab is None:
            crontab = CrontabSchedule.objects.create(timezone=TIMEZONE, **fields)
        PeriodicTask.objects.create(
            name=entry["name"],
            task=entry["task"],
            crontab=crontab,
            queue=entry.get("queue") or None,
            description=entry.get("description", ""),
            kwargs=json.dumps(entry.get("kwargs", {})),
            enabled=True,
        )
        created.append(entry["name"])
    return created
