"""When to look for oversells in live operation: once the WMS truth at an order's instant is known.

A storefront poll brings orders in before the WMS poll that carries the count events before
them; checking an order then would judge it against incomplete truth. So an order line is checked
once every enabled WMS connector has completed a poll that started after it was placed, and then
only once (a watermark in the cache; losing it costs a re-check of the lookback, which is
idempotent: one oversell per order line).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.core.cache import cache
from django.db.models import Max
from django.utils import timezone

from inventory_hub.connectors.models import Connector, PollRun, Role
from inventory_hub.tracing import services

WATERMARK_KEY = "tracing:oversells-checked-until"
LOOKBACK = dt.timedelta(hours=6)  # how far back a lost watermark re-checks (and the longest wait for a WMS poll)


@dataclasses.dataclass(frozen=True, slots=True)
class DueResult:
    since: dt.datetime | None
    until: dt.datetime | None
    checked: int
    oversells: int


def wms_complete_until() -> dt.datetime | None:
    """The instant up to which every enabled WMS connector's truth has been read, or None."""
    wms = list(Connector.objects.filter(role=Role.WMS, enabled=True).values_list("pk", flat=True))
    if not wms:
        return None
    latest = dict(
        PollRun.objects.filter(connector_id__in=wms, status=PollRun.Status.SUCCEEDED)
        .values("connector_id")
        .annotate(started=Max("started_at"))
        .values_list("connector_id", "started")
    )
    if set(latest) != set(wms):
        return None  # a WMS never read: no truth to judge an order by
    return min(latest.values())


def oversells_detect_due(*, now: dt.datetime | None = None) -> DueResult:
    """Check the order lines whose WMS truth is now complete; then look for cascade loops since."""
    now = now or timezone.now()
    until = wms_complete_until()
    if until is None:
        return DueResult(since=None, until=None, checked=0, oversells=0)
    watermark = cache.get(WATERMARK_KEY)
    since = max(watermark, until - LOOKBACK) if isinstance(watermark, dt.datetime) else until - LOOKBACK
    if since >= until:
        return DueResult(since=since, until=until, checked=0, oversells=0)
    result = services.oversells_detect(since=since, now=until)
    services.cascade_loops_detect(since=since - services.CASCADE_WINDOW, now=now)
    cache.set(WATERMARK_KEY, until, timeout=None)
    return DueResult(since=since, until=until, checked=result.checked, oversells=result.oversells)
