"""Small formatting filters the dashboard's pages share."""

from __future__ import annotations

import datetime as dt

from django import template

register = template.Library()


@register.filter
def age(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """How old a number is, compactly: "42 s", "7 min", "3 h 5 min", "2 d"; "—" when unknown."""
    if value is None:
        return "—"
    if now is None:
        now = dt.datetime.now(tz=dt.UTC)
    seconds = max(0, int((now - value).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        hours, minutes = divmod(seconds // 60, 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{seconds // 86400} d"


@register.filter
def duration(seconds: float | None) -> str:
    """A lag or a duration in seconds, compactly ("—" when not measured)."""
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min {rest} s" if rest and minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
