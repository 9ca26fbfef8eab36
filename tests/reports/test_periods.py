from __future__ import annotations

import datetime as dt

from inventory_hub.reports.periods import schedule_next_run, schedule_period


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_daily_runs_next_at_the_send_hour_today_or_tomorrow():
    assert schedule_next_run(frequency="daily", send_hour=6, after=utc(2026, 3, 10, 5, 59)) == utc(2026, 3, 10, 6)
    assert schedule_next_run(frequency="daily", send_hour=6, after=utc(2026, 3, 10, 6)) == utc(2026, 3, 11, 6)


def test_weekly_runs_on_the_next_monday():
    # 2026-03-10 is a Tuesday; 2026-03-16 a Monday
    assert schedule_next_run(frequency="weekly", send_hour=7, after=utc(2026, 3, 10, 12)) == utc(2026, 3, 16, 7)
    assert schedule_next_run(frequency="weekly", send_hour=7, after=utc(2026, 3, 16, 6)) == utc(2026, 3, 16, 7)


def test_a_run_reports_on_the_day_or_the_week_before_it():
    assert schedule_period(frequency="daily", run_at=utc(2026, 3, 10, 6)) == (dt.date(2026, 3, 9), dt.date(2026, 3, 9))
    assert schedule_period(frequency="weekly", run_at=utc(2026, 3, 16, 7)) == (
        dt.date(2026, 3, 9),
        dt.date(2026, 3, 15),
    )
