"""Fetch one poll's records from an adapter with no transaction open, spooling them to disk.

Positions are written to a CSV spool as they stream in (a million rows never sit in memory as
objects); events and orders to JSON-lines spools. Nothing touches the database here.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import tempfile
import time
from typing import IO, Any

from inventory_hub.connectors.base import Adapter, EventRecord, ExternalLocation, OrderRecord

SPOOL_IN_MEMORY = 8 << 20  # bytes kept in memory before a spool moves to a temporary file


def _spool() -> IO[str]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, mode="w+", newline="", encoding="utf-8")  # noqa: SIM115


def _utc_text(value: dt.datetime | None) -> str:
    # The format Django itself stores (UTC, no offset), so SQLite compares text correctly.
    return "" if value is None else str(value.astimezone(dt.UTC).replace(tzinfo=None))


@dataclasses.dataclass
class Fetched:
    """Everything one poll read, spooled, plus the cursors to save once it is stored."""

    locations: list[ExternalLocation]
    positions: IO[str]
    events: IO[str]
    orders: IO[str]
    cursors: dict[str, str]
    pages: int = 0
    positions_seen: int = 0
    events_seen: int = 0
    orders_seen: int = 0
    seconds: float = 0.0

    def close(self) -> None:
        for spool in (self.positions, self.events, self.orders):
            spool.close()


def _event_json(record: EventRecord) -> str:
    data = dataclasses.asdict(record)
    data["occurred_at"] = record.occurred_at.isoformat()
    return json.dumps(data, default=str)


def _order_json(record: OrderRecord) -> str:
    data = dataclasses.asdict(record)
    data["placed_at"] = record.placed_at.isoformat()
    return json.dumps(data, default=str)


def poll_fetch(adapter: Adapter, *, cursors: dict[str, Any]) -> Fetched:
    """Read locations, every position, and events and orders after the saved cursors."""
    started = time.perf_counter()
    fetched = Fetched(locations=adapter.locations(), positions=_spool(), events=_spool(), orders=_spool(), cursors={})
    try:
        writer = csv.writer(fetched.positions, lineterminator="\n")
        for page in adapter.positions():
            fetched.pages += 1
            for p in page.records:
                writer.writerow(
                    (
                        p.external_location_id,
                        p.sku,
                        p.bin,
                        p.on_hand,
                        p.allocated,
                        p.available,
                        p.incoming,
                        _utc_text(p.as_of),
                    )
                )
            fetched.positions_seen += len(page.records)
        for stream, spool, encode in (
            ("events", fetched.events, _event_json),
            ("orders", fetched.orders, _order_json),
        ):
            pages = (
                adapter.events(since=cursors.get("events"))
                if stream == "events"
                else adapter.orders(since=cursors.get("orders"))
            )
            for page in pages:
                fetched.pages += 1
                for record in page.records:
                    spool.write(encode(record) + "\n")  # type: ignore[operator]
                if stream == "events":
                    fetched.events_seen += len(page.records)
                else:
                    fetched.orders_seen += len(page.records)
                if page.cursor is not None:
                    fetched.cursors[stream] = page.cursor
    except BaseException:
        fetched.close()
        raise
    fetched.seconds = time.perf_counter() - started
    return fetched


def spool_lines(spool: IO[str]) -> Any:
    """Iterate the JSON records of a spool from the start."""
    spool.seek(0)
    for line in spool:
        yield json.loads(line)
