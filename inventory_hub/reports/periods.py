"""When a schedule runs next and which days its report covers (pure: no ORM, all times UTC)."""

from __future__ import annotations

import datetime as dt

DAILY = "daily"
WEEKLY = "weekly"
MONDAY = 0


def schedule_next_run(*, frequency: str, send_hour: int, after: dt.datetime) -> dt.datetime:
    """The first send time strictly after `after`: at send_hour UTC, daily or on a Monday."""
    after = after.astimezone(dt.UTC)
    candidate = dt.datetime.combine(after.date(), dt.time(send_hour), tzinfo=dt.UTC)
    while candidate <= after or (frequency == WEEKLY and candidate.weekday() != MONDAY):
        candidate += dt.timedelta(days=1)
    return candidate


def schedule_period(*, frequency: str, run_at: dt.datetime) -> tuple[dt.date, dt.date]:
    """The whole UTC days a run at `run_at` reports on: the day before, or the 7 days before."""
    date_to = run_at.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    return (date_to - dt.timedelta(days=6) if frequency == WEEKLY else date_to), date_to
