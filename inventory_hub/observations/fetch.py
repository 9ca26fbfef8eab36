"""Fetch one poll's records from an adapter with no transaction open, spooling them to disk.

Positions are written to a CSV spool as they stream in (a million rows never sit in memory as
objects); events and orders to JSON-lines spools. Nothing touches the database here.

Positions are read incrementally where the adapter can: from when the previous read started,
less an overlap, with a full read when there was none or the last full one is older than the
connector's `full_read_minutes` (only a full read sees positions that vanished). The two start
times are cursors ("positions", "positions_full"), saved with the poll's data like the others.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import tempfile
import time
from typing import IO, Any

from inventory_hub.connectors.base import Adapter, EventRecord, ExternalLocation, OrderRecord, positive_int_option

SPOOL_IN_MEMORY = 8 << 20  # bytes kept in memory before a spool moves to a temporary file
FULL_READ_MINUTES = 60  # default of the connector option full_read_minutes
# Read back this far before the previous read's start: the systems stamp whole seconds, their
# clocks differ a little from ours, and a change committed during a read may carry an earlier stamp.
POSITIONS_OVERLAP = dt.timedelta(minutes=2)


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
    positions_full: bool = True  # False: only changed positions were read, so none can be seen to vanish
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


def _cursor_time(value: Any) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None  # unreadable: the caller falls back to a full read
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def positions_changed_since(adapter: Adapter, *, cursors: dict[str, Any], read_at: dt.datetime) -> dt.datetime | None:
    """Where a positions read starting at `read_at` may start: None means read everything."""
    if not adapter.reads_changed_positions:
        return None
    every = dt.timedelta(minutes=positive_int_option(adapter.config, "full_read_minutes", FULL_READ_MINUTES))
    last, last_full = _cursor_time(cursors.get("positions")), _cursor_time(cursors.get("positions_full"))
    if last is None or last_full is None or read_at - last_full >= every or last > read_at:
        return None  # never read, full read due, or the clock went back (a replayed backfill)
    return last - POSITIONS_OVERLAP


def poll_fetch(adapter: Adapter, *, cursors: dict[str, Any], read_at: dt.datetime | None = None) -> Fetched:
    """Read locations, positions (changed since the last read when possible), and events and
    orders after the saved cursors. Without `read_at` (when the poll started) positions are read in full.
    """
    started = time.perf_counter()
    fetched = Fetched(locations=adapter.locations(), positions=_spool(), events=_spool(), orders=_spool(), cursors={})
    try:
        changed_since = None if read_at is None else positions_changed_since(adapter, cursors=cursors, read_at=read_at)
        fetched.positions_full = changed_since is None
        writer = csv.writer(fetched.positions, lineterminator="\n")
        for page in adapter.positions(changed_since=changed_since):
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
        if read_at is not None and adapter.reads_changed_positions:
            fetched.cursors["positions"] = read_at.isoformat()
            if fetched.positions_full:
                fetched.cursors["positions_full"] = read_at.isoformat()
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
