"""Structured JSON log lines with personal data masked (security.md LG2, LG5)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from django.http import HttpRequest

from portal.masking import mask_text
from portal.request_context import current

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class MaskPersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string must not lose the line
            message = str(record.msg)
        record.msg = mask_text(message)
        record.args = None
        return True


def _text(value) -> str:
    """A request (django.request's `extra`) as method and path only: its repr
    carries the query string, which holds a worker's position on the stations
    pages and API (行踪信息 is sensitive personal information) or a search."""
    if isinstance(value, HttpRequest):
        return f"{value.method} {value.path}"
    return str(value)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ctx = current()
        payload = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": ctx.request_id if ctx else None,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = mask_text(_text(value))
        if record.exc_info:
            payload["exc"] = mask_text(self.formatException(record.exc_info))
        # json.dumps escapes newlines, so injected text cannot forge a second entry.
        return json.dumps(payload, ensure_ascii=False)
