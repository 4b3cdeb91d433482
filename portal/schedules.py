"""Default periodic (beat) schedules, shipped from code and synced into
django-celery-beat, where staff can tune them. Each entry: name, task, crontab
fields, queue."""

DEFAULT_SCHEDULES: list[dict] = [
    {
        # Platform batches (issue #6): re-queue stalled chunks, purge old
        # idempotency records (security.md CE9).
        "name": "platform batches: sweep stalled chunks",
        "task": "services.tasks.batch_sweep",
        "crontab": {"minute": "*"},
        "queue": "bulk",
    },
]
