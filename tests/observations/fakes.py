"""An in-memory adapter for pipeline tests: the records are whatever the test puts in `World`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterator

from inventory_hub.connectors.base import (
    Adapter,
    EventRecord,
    ExternalLocation,
    OrderLineRecord,
    OrderRecord,
    Page,
    PermanentConnectorError,
    PositionRecord,
    TransientConnectorError,
)

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@dataclasses.dataclass
class FakeSystem:
    locations: list[ExternalLocation] = dataclasses.field(default_factory=list)
    positions: list[PositionRecord] = dataclasses.field(default_factory=list)
    events: list[EventRecord] = dataclasses.field(default_factory=list)
    orders: list[OrderRecord] = dataclasses.field(default_factory=list)
    page_size: int = 2
    fail_with: Exception | None = None
    positions_started: threading.Event = dataclasses.field(default_factory=threading.Event)
    release: threading.Event | None = None  # when set, positions() waits for it (concurrency tests)
    reads_changed: bool = False  # answer positions(changed_since=) with only the (location, SKU) changed since
    changed_at: dict[tuple[str, str], dt.datetime] = dataclasses.field(default_factory=dict)  # default T0
    positions_calls: list[dt.datetime | None] = dataclasses.field(default_factory=list)


SYSTEM = FakeSystem()


class FakeAdapter(Adapter):
    product = "csv"
    roles = frozenset({"wms", "erp", "storefront"})

    def __init__(self, config, *, transport=None, sleep=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(config, transport=transport)

    def locations(self) -> list[ExternalLocation]:
        return list(SYSTEM.locations)

    @property
    def reads_changed_positions(self) -> bool:  # type: ignore[override]
        return SYSTEM.reads_changed

    def positions(self, *, changed_since: dt.datetime | None = None) -> Iterator[Page[PositionRecord]]:
        SYSTEM.positions_calls.append(changed_since)
        SYSTEM.positions_started.set()
        if SYSTEM.release is not None:
            SYSTEM.release.wait(timeout=30)
        if SYSTEM.fail_with is not None:
            raise SYSTEM.fail_with
        records = [
            p
            for p in SYSTEM.positions
            if changed_since is None or SYSTEM.changed_at.get((p.external_location_id, p.sku), T0) >= changed_since
        ]
        for start in range(0, len(records), SYSTEM.page_size):
            yield Page(tuple(records[start : start + SYSTEM.page_size]))

    def events(self, *, since: str | None) -> Iterator[Page[EventRecord]]:
        records = [e for e in SYSTEM.events if since is None or e.occurred_at.isoformat() >= since]
        for start in range(0, len(records), SYSTEM.page_size):
            page = tuple(records[start : start + SYSTEM.page_size])
            yield Page(page, cursor=page[-1].occurred_at.isoformat())

    def orders(self, *, since: str | None) -> Iterator[Page[OrderRecord]]:
        records = [o for o in SYSTEM.orders if since is None or o.placed_at.isoformat() >= since]
        if records:
            yield Page(tuple(records), cursor=records[-1].placed_at.isoformat())


def position(location: str, sku: str, on_hand: int, allocated: int = 0, bin: str = "") -> PositionRecord:
    return PositionRecord(
        location, sku, on_hand=on_hand, allocated=allocated, available=on_hand - allocated, bin=bin, as_of=T0
    )


def event(n: int, location: str = "wh-1", sku: str = "SKU-A", delta: int = -3) -> EventRecord:
    return EventRecord(f"evt-{n}", "cycle_count", location, sku, delta, 40, T0 + dt.timedelta(minutes=n), raw={"n": n})


def order(n: int, location: str = "wh-1", sku: str = "SKU-A", quantity: int = 2) -> OrderRecord:
    return OrderRecord(
        f"order-{n}",
        f"#{1000 + n}",
        "web",
        T0 + dt.timedelta(minutes=n),
        (OrderLineRecord(f"line-{n}", location, sku, quantity),),
    )


__all__ = [
    "SYSTEM",
    "FakeAdapter",
    "FakeSystem",
    "PermanentConnectorError",
    "TransientConnectorError",
    "event",
    "order",
    "position",
]
