"""Default periodic (beat) schedules, seeded into django-celery-beat.

`python manage.py sync_schedules` (run by a data migration and by `make run`)
creates the rows that are missing and never changes existing ones, so staff edits
in the admin (times, enabled flag) survive deploys. Crontab fields are in
Asia/Shanghai time. Run exactly one `celery beat` process (README).

Each entry: `name` (unique, shown in the admin), `task` (registered task name),
`crontab` (minute/hour/day_of_week/day_of_month/month_of_year; missing = "*"),
`queue` (must match settings.CELERY_TASK_ROUTES for that task) and an optional
`description`. Other modules append their entries here.
"""

from __future__ import annotations

DEFAULT_SCHEDULES: list[dict] = [
    {
        "name": "通知:发送到期通知",
        "task": "members.tasks.notification_dispatch",
        "crontab": {"minute": "*"},
        "queue": "notifications",
        "description": "Every minute: claim due outbox rows in batches and send them.",
    },
    {
        "name": "通知:回收卡住的发送",
        "task": "members.tasks.notification_sweep",
        "crontab": {"minute": "*/5"},
        "queue": "notifications",
        "description": "Return rows stuck in `sending` for >10 min (CE9).",
    },
    {
        "name": "提醒:入会申请超过3个工作日未审核",
        "task": "members.tasks.application_review_reminders_enqueue",
        "crontab": {"minute": "0", "hour": "9", "day_of_week": "1-5"},
        "queue": "default",
        "description": "Working days 09:00: remind reviewers of waiting applications.",
    },
    {
        "name": "提醒:个人信息请求超过10天未处理",
        "task": "members.tasks.data_request_reminders_enqueue",
        "crontab": {"minute": "10", "hour": "9"},
        "queue": "default",
        "description": "Daily 09:10: remind staff of open data/withdrawal requests.",
    },
    # Protection programs: re-check every active enrollment, then renew / remind.
    {
        "name": "保障计划:每晚资格复核",
        "task": "services.tasks.programs.programs_recheck",
        "crontab": {"minute": "30", "hour": "2"},
        "queue": "bulk",
        "description": "02:30: re-check every active enrollment set-based (issue #5).",
    },
    {
        "name": "保障计划:续保与到期提醒",
        "task": "services.tasks.programs.programs_renew",
        "crontab": {"minute": "30", "hour": "3"},
        "queue": "bulk",
        "description": "03:30: renew still-eligible members; remind 30/7 days ahead.",
    },
    # Platform batches (issue #6): re-queue stalled chunks, purge old idempotency
    # records (security.md CE9).
    {
        "name": "平台批量报名:回收停滞的分块",
        "task": "services.tasks.batch_sweep",
        "crontab": {"minute": "*"},
        "queue": "bulk",
        "description": "Every minute: re-queue chunks stalled >10 min; purge keys.",
    },
    # Retention schedule (security.md PI8): delete / anonymise personal data whose
    # period (settings RETENTION_*_DAYS) is over.
    {
        "name": "个人信息:按保存期限删除或匿名化",
        "task": "members.tasks.retention_run",
        "crontab": {"minute": "15", "hour": "4"},
        "queue": "default",
        "description": "04:15 daily: retention job (PI8), one audit row per category.",
    },
    # Audit log copy (security.md LG3): yesterday's rows (Asia/Shanghai) to the
    # separate store, as JSON Lines + a signed manifest chained to the day before.
    {
        "name": "审计日志:每日异地存档",
        "task": "members.tasks.audit_ship",
        "crontab": {"minute": "30", "hour": "0"},
        "queue": "default",
        "description": "00:30 daily: ship every missing day up to yesterday (LG3).",
    },
]
