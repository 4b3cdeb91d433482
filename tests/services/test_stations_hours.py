"""Opening-hours rules (Asia/Shanghai), including intervals past midnight."""

from datetime import date, datetime, time

import pytest

from services.opening_hours import (
    SHANGHAI,
    HoursSyntaxError,
    Schedule,
    format_hours_text,
    open_status,
    parse_hours_text,
    status_label,
)

FRI = 4  # 2025-01-03 is a Friday, 2025-01-04 a Saturday


def at(day: int, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2025, 1, day, hh, mm, ss, tzinfo=SHANGHAI)


NIGHT_SHIFT = Schedule(
    is_24h=False, weekly={FRI: [(time(22, 0), time(2, 0))]}, holidays={}
)
UNTIL_MIDNIGHT = Schedule(
    is_24h=False, weekly={d: [(time(8, 0), time(0, 0))] for d in range(7)}, holidays={}
)


def test_open_at_2359_inside_an_interval_that_crosses_midnight():
    status = open_status(NIGHT_SHIFT, at(3, 23, 59))

    assert status.is_open is True
    assert status.closes_at == at(4, 2, 0)


def test_still_open_at_0000_on_the_next_day_from_the_previous_days_schedule():
    assert open_status(NIGHT_SHIFT, at(4, 0, 0)).is_open is True
    assert open_status(NIGHT_SHIFT, at(4, 1, 59, 59)).is_open is True


def test_closes_exactly_at_the_end_of_the_past_midnight_interval():
    status = open_status(NIGHT_SHIFT, at(4, 2, 0))

    assert status.is_open is False
    assert status.opens_at == at(10, 22, 0)  # next Friday


def test_an_interval_ending_at_midnight_is_open_at_2359_and_closed_at_0000():
    assert open_status(UNTIL_MIDNIGHT, at(3, 23, 59)).is_open is True
    status = open_status(UNTIL_MIDNIGHT, at(4, 0, 0))
    assert status.is_open is False
    assert status.opens_at == at(4, 8, 0)


def test_utc_input_is_evaluated_in_shanghai():
    # 15:59 UTC on Friday is 23:59 in Shanghai.
    from datetime import UTC

    moment = datetime(2025, 1, 3, 15, 59, tzinfo=UTC)

    assert open_status(NIGHT_SHIFT, moment).is_open is True


def test_a_closed_holiday_replaces_the_day_and_its_past_midnight_tail():
    schedule = Schedule(
        is_24h=False,
        weekly=NIGHT_SHIFT.weekly,
        holidays={date(2025, 1, 3): []},
    )

    assert open_status(schedule, at(3, 23, 59)).is_open is False
    assert open_status(schedule, at(4, 1, 0)).is_open is False


def test_a_24h_station_is_open_at_midnight_unless_a_holiday_closes_it():
    always = Schedule(is_24h=True, weekly={}, holidays={})
    closed_saturday = Schedule(is_24h=True, weekly={}, holidays={date(2025, 1, 4): []})

    assert open_status(always, at(4, 0, 0)).is_open is True
    assert open_status(closed_saturday, at(4, 0, 0)).is_open is False
    assert open_status(closed_saturday, at(3, 23, 59)).is_open is True
    assert open_status(closed_saturday, at(4, 12, 0)).opens_at == at(5, 0, 0)


def test_labels_say_until_when_or_when_it_opens():
    assert status_label(open_status(NIGHT_SHIFT, at(3, 23, 0)), at(3, 23, 0)) == (
        "营业中 · 至 明天 02:00"
    )
    assert status_label(open_status(UNTIL_MIDNIGHT, at(3, 9, 0)), at(3, 9, 0)) == (
        "营业中 · 至 24:00"
    )
    assert status_label(open_status(NIGHT_SHIFT, at(3, 9, 0)), at(3, 9, 0)) == (
        "已休息 · 22:00 开门"
    )
    assert status_label(open_status(NIGHT_SHIFT, at(4, 9, 0)), at(4, 9, 0)) == (
        "已休息 · 周五 22:00 开门"
    )
    never = Schedule(is_24h=False, weekly={}, holidays={})
    assert status_label(open_status(never, at(4, 9, 0)), at(4, 9, 0)) == (
        "已休息 · 暂停开放"
    )


def test_hours_text_round_trips():
    text = "mon-fri 08:00-20:00; sat 10:00-14:00,22:00-02:00"

    weekly = parse_hours_text(text)

    assert weekly[0] == [(time(8, 0), time(20, 0))]
    assert weekly[5] == [(time(10, 0), time(14, 0)), (time(22, 0), time(2, 0))]
    assert 6 not in weekly
    assert format_hours_text(weekly) == (
        "mon 08:00-20:00; tue 08:00-20:00; wed 08:00-20:00; thu 08:00-20:00; "
        "fri 08:00-20:00; sat 10:00-14:00,22:00-02:00"
    )
    assert parse_hours_text(format_hours_text(weekly)) == weekly


@pytest.mark.parametrize(
    "bad",
    [
        "monday 08:00-20:00",
        "mon 8:00-20:00",
        "mon 25:00-20:00",
        "mon 08:00-08:00",
        "fri-mon 08:00-20:00",
        "mon 08:00-20:00; mon 09:00-10:00",
        "=cmd|' /C calc'!A0",
        "x" * 600,
    ],
)
def test_hours_text_rejects_malformed_input(bad):
    with pytest.raises(HoursSyntaxError):
        parse_hours_text(bad)
