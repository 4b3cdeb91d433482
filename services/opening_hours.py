"""Opening hours as plain data: is a station open at a moment, when does it open
or close next, and the compact text form used by the CSV import/export.

Semantics (shared with the SQL filter in services/selectors/stations.py, and a
test checks that both agree minute by minute):

* A weekday's intervals are (opens, closes); `closes <= opens` runs past midnight,
  so Friday 22:00-02:00 is still open at Saturday 01:00.
* A holiday override replaces the schedule of its date (closed = no intervals);
  its own interval may run past midnight as well.
* `is_24h` means the whole day is open unless that date has a holiday override.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

SHANGHAI = ZoneInfo("Asia/Shanghai")
Interval = tuple[time, time]
FULL_DAY: Interval = (time(0, 0), time(0, 0))  # only ever produced for is_24h

DAY_CODES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = (
    gettext_lazy("周一"),
    gettext_lazy("周二"),
    gettext_lazy("周三"),
    gettext_lazy("周四"),
    gettext_lazy("周五"),
    gettext_lazy("周六"),
    gettext_lazy("周日"),
)


@dataclass(frozen=True)
class Schedule:
    is_24h: bool
    weekly: Mapping[int, Sequence[Interval]]
    holidays: Mapping[date, Sequence[Interval]]  # an empty list = closed that day

    def intervals_on(self, day: date) -> Sequence[Interval]:
        if day in self.holidays:
            return self.holidays[day]
        if self.is_24h:
            return (FULL_DAY,)
        return self.weekly.get(day.weekday(), ())


@dataclass(frozen=True)
class OpenStatus:
    is_open: bool
    is_24h_today: bool
    closes_at: datetime | None  # when open and not open all day
    opens_at: datetime | None  # when closed: the next opening within a week


def _spans(day: date, intervals: Iterable[Interval]) -> list[tuple[datetime, datetime]]:
    """Naive Shanghai wall-clock spans (Asia/Shanghai has had no DST since 1991,
    so wall-clock arithmetic is exact; tzinfo is attached to what is returned)."""
    out = []
    for opens, closes in intervals:
        start = datetime.combine(day, opens)
        end_day = day + _ONE_DAY if closes <= opens else day
        out.append((start, datetime.combine(end_day, closes)))
    return out


_ONE_DAY = timedelta(days=1)


def open_status(schedule: Schedule, at: datetime) -> OpenStatus:
    """The status at `at` (any timezone; evaluated in Asia/Shanghai)."""
    now = at.astimezone(SHANGHAI).replace(microsecond=0, tzinfo=None)
    today = now.date()
    yesterday = today - _ONE_DAY
    today_intervals = schedule.intervals_on(today)
    if today_intervals == (FULL_DAY,):
        return OpenStatus(True, True, None, None)
    # Yesterday's all-day schedule ends at midnight: it never spills over.
    y_intervals = [i for i in schedule.intervals_on(yesterday) if i != FULL_DAY]
    for start, end in _spans(yesterday, y_intervals) + _spans(today, today_intervals):
        if start <= now < end:
            return OpenStatus(True, False, end.replace(tzinfo=SHANGHAI), None)
    for offset in range(8):
        day = today + timedelta(days=offset)
        for start, _end in sorted(_spans(day, schedule.intervals_on(day))):
            if start > now:
                return OpenStatus(False, False, None, start.replace(tzinfo=SHANGHAI))
    return OpenStatus(False, False, None, None)


class SecondMemo:
    """A small dict of results that hold for one second, emptied when the second
    changes: open_status() drops microseconds, so at one second every station with
    the same hours text has the same status, and a busy API computes each distinct
    schedule once per second instead of once per row. Bounded: past `max_size`
    entries in one second it stops remembering (it never grows with the load).
    Threads may race on the swap; the worst case is a result computed twice.
    The second and its table live in one tuple, swapped in one assignment, so a
    thread switch between two writes can never pair a table with another second."""

    __slots__ = ("max_size", "_state")

    def __init__(self, max_size: int = 4096):
        self.max_size = max_size
        self._state: tuple[object, dict] = (None, {})

    def table(self, second: object) -> dict:
        state = self._state
        if state[0] != second:
            state = (second, {})
            self._state = state
        return state[1]

    def remember(self, table: dict, key, value):
        if len(table) < self.max_size:
            table[key] = value
        return value


@functools.lru_cache(maxsize=8)
def _label_texts(language: str | None) -> tuple:
    """The label strings in one language (the catalog never changes at run time;
    one lookup per language instead of two gettext calls per row)."""
    return (
        _("营业中 · 全天开放"),
        _("营业中 · 至 %(time)s"),
        _("已休息 · 暂停开放"),
        _("已休息 · %(time)s 开门"),
        _("明天 %(time)s"),
        tuple(str(name) for name in DAY_NAMES),
    )


def status_label(status: OpenStatus, at: datetime) -> str:
    """Short text for a list row: 营业中 · 至 22:00 / 已休息 · 明天 08:00 开门."""
    return status_labeler(at)(status)


def status_labeler(at: datetime) -> Callable[[OpenStatus], str]:
    """status_label for many rows at one moment, in the active language: the
    language and the date are looked up once, not per row."""
    texts = _label_texts(get_language())
    today = at.astimezone(SHANGHAI).date()

    def label(status: OpenStatus) -> str:
        if status.is_open:
            if status.is_24h_today:
                return texts[0]
            assert status.closes_at is not None  # noqa: S101
            return texts[1] % {"time": _when(status.closes_at, today, texts)}
        if status.opens_at is None:
            return texts[2]
        return texts[3] % {"time": _when(status.opens_at, today, texts)}

    return label


def _when(moment: datetime, today: date, texts: tuple) -> str:
    days = (moment.date() - today).days
    hm = f"{moment.hour:02d}:{moment.minute:02d}"
    midnight = moment.hour == 0 and moment.minute == 0
    if days == 0:
        return "24:00" if midnight else hm
    if days == 1:
        return "24:00" if midnight else texts[4] % {"time": hm}
    return f"{texts[5][moment.weekday()]} {hm}"


# --- Compact text form (CSV) -------------------------------------------------------
# "mon-fri 08:00-20:00; sat 10:00-14:00,22:00-02:00"  (days without an entry are
# closed; "24h" as the whole value means is_24h)

_DAY_RE = r"(mon|tue|wed|thu|fri|sat|sun)"
_PART_RE = re.compile(
    rf"^{_DAY_RE}(?:-{_DAY_RE})?\s+(\d{{2}}:\d{{2}}-\d{{2}}:\d{{2}}(?:,\d{{2}}:\d{{2}}-\d{{2}}:\d{{2}})*)$"
)


class HoursSyntaxError(ValueError):
    pass


def _parse_time(text: str) -> time:
    hh, mm = text.split(":")
    if int(hh) > 23 or int(mm) > 59:
        raise HoursSyntaxError(f"时间 {text} 无效")
    return time(int(hh), int(mm))


def parse_hours_text(text: str) -> dict[int, list[Interval]]:
    """Parse the compact form; raises HoursSyntaxError with a Chinese message."""
    weekly: dict[int, list[Interval]] = {}
    text = (text or "").strip().lower()
    if not text:
        return weekly
    if len(text) > 500:
        raise HoursSyntaxError("开放时间文本过长")
    for raw in text.split(";"):
        part = " ".join(raw.split())
        if not part:
            continue
        match = _PART_RE.match(part)
        if not match:
            raise HoursSyntaxError(
                f"无法识别“{part[:40]}”,格式示例:mon-fri 08:00-20:00; sat 22:00-02:00"
            )
        first = DAY_CODES.index(match.group(1))
        last = DAY_CODES.index(match.group(2)) if match.group(2) else first
        if last < first:
            raise HoursSyntaxError(f"星期范围“{part[:20]}”顺序不对")
        intervals = []
        for span in match.group(3).split(","):
            opens, closes = (_parse_time(x) for x in span.split("-"))
            if opens == closes:
                raise HoursSyntaxError(f"{span} 开门和关门时间相同")
            intervals.append((opens, closes))
        for day in range(first, last + 1):
            if day in weekly:
                raise HoursSyntaxError(f"{DAY_CODES[day]} 重复出现")
            weekly[day] = sorted(intervals)
    return weekly


def format_hours_text(weekly: Mapping[int, Sequence[Interval]]) -> str:
    parts = []
    for day in range(7):
        spans = weekly.get(day)
        if spans:
            text = ",".join(f"{o:%H:%M}-{c:%H:%M}" for o, c in sorted(spans))
            parts.append(f"{DAY_CODES[day]} {text}")
    return "; ".join(parts)
