"""Cascade loops on their own (pure grouping)."""

from __future__ import annotations

import datetime as dt

from inventory_hub.tracing.services import CascadeEvent, cascade_loops_find

T0 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)


def _event(pk: int, system: str, minutes: int) -> CascadeEvent:
    return CascadeEvent(event_id=pk, system=system, at=T0 + dt.timedelta(minutes=minutes), delta=-2, detail="")


def test_erp_reconciliation_backflush_and_reconciliation_within_the_window_are_one_loop():
    adjustments = [
        (1, "SKU-1", _event(1, "erp", 0)),
        (1, "SKU-1", _event(2, "wms", 20)),
        (1, "SKU-1", _event(3, "erp", 45)),
    ]

    loops = cascade_loops_find(adjustments)

    assert [(loop.location_id, loop.sku, [e.event_id for e in loop.events]) for loop in loops] == [
        (1, "SKU-1", [1, 2, 3])
    ]


def test_adjustments_hours_apart_or_in_one_system_are_no_loop():
    adjustments = [
        (1, "SKU-1", _event(1, "erp", 0)),
        (1, "SKU-1", _event(2, "wms", 300)),
        (1, "SKU-1", _event(3, "erp", 600)),
        (2, "SKU-2", _event(4, "erp", 0)),
        (2, "SKU-2", _event(5, "erp", 10)),
        (2, "SKU-2", _event(6, "erp", 20)),
    ]

    loops = cascade_loops_find(adjustments)

    assert loops == []
