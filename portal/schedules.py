"""Default periodic (beat) schedules, shipped from code and synced into
django-celery-beat (the notifications helper adds the sync command; the lead
merges this list with theirs). Times are Asia/Shanghai (CELERY_TIMEZONE)."""

DEFAULT_SCHEDULES: list[dict] = [
    # Protection programs: re-check every active enrollment, then renew / remind.
    {
        "name": "programs: nightly eligibility re-check",
        "task": "services.tasks.programs.programs_recheck",
        "crontab": {"minute": "30", "hour": "2"},
        "queue": "bulk",
    },
    {
        "name": "programs: renewals and coverage-ending reminders",
        "task": "services.tasks.programs.programs_renew",
        "crontab": {"minute": "30", "hour": "3"},
        "queue": "bulk",
    },
]
