"""Default periodic (beat) schedules, synced into django-celery-beat by a command.
Times are Asia/Shanghai (CELERY_TIMEZONE)."""

DEFAULT_SCHEDULES: list[dict] = [
    # Members (issue #3): reminders to reviewers and to staff handling data requests.
    {
        "name": "members: remind reviewers of applications waiting > 3 working days",
        "task": "members.tasks.application_review_reminders_enqueue",
        "crontab": {"minute": "0", "hour": "9", "day_of_week": "1-5"},
        "queue": "default",
    },
    {
        "name": "members: remind staff of data requests open > 10 days",
        "task": "members.tasks.data_request_reminders_enqueue",
        "crontab": {"minute": "10", "hour": "9", "day_of_week": "*"},
        "queue": "default",
    },
]
