"""The ERP-role adapter for ERPNext: warehouses, Bins (positions) and the Stock Ledger (events).

Options (`ConnectorConfig.options`):
- `time_zone` (IANA name, default "UTC"): the site's time zone; ERPNext renders naive datetimes in it.
- `page_size` (default 500): `limit_page_length` of every list call (never 0, which means "all").
- `history_start`: where `events(since=None)` starts; a naive value is taken as the site's local
  time, an ISO value with an offset is converted to it.
- `posting_datetime` (default true): set false for ERPNext sites from before 2024 (frappe/erpnext#39800),
  whose Stock Ledger Entry has no `posting_datetime` and would refuse the field in a query; the
  adapter then reads posting_date + posting_time, which it requests anyway.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from inventory_hub.connectors.base import (
    Adapter,
    ConnectorConfig,
    EventRecord,
    ExternalLocation,
    Page,
    PermanentConnectorError,
    PositionRecord,
)
from inventory_hub.connectors.erpnext import parsing
from inventory_hub.connectors.erpnext.client import FrappeClient

DEFAULT_PAGE_SIZE = 500

WAREHOUSE_FIELDS = ("name", "warehouse_name", "is_group", "disabled")
WAREHOUSE_FILTERS = (("is_group", "=", 0), ("disabled", "=", 0))
BIN_FIELDS = (
    "name",
    "item_code",
    "warehouse",
    "actual_qty",
    "reserved_qty",
    "ordered_qty",
    "projected_qty",
    "modified",
)
LEDGER_FIELDS = (
    "name",
    "item_code",
    "warehouse",
    "posting_datetime",
    "posting_date",
    "posting_time",
    "voucher_type",
    "voucher_no",
    "actual_qty",
    "qty_after_transaction",
    "is_cancelled",
    "creation",
)
# `name` breaks ties: a sync posts many entries with one `creation`, and limit_start paging is
# only stable over a total order. Frappe (and the sandbox) accept a comma-separated order_by.
NAME_ORDER = "name asc"
LEDGER_ORDER = "creation asc, name asc"


class ErpNextAdapter(Adapter):
    """ERPNext over Frappe's REST API (token auth), read-only."""

    product = "erpnext"
    roles = frozenset({"erp"})

    def __init__(self, config: ConnectorConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.zone = parsing.time_zone(config.options.get("time_zone", "UTC"))
        self.page_size = _page_size(config.options.get("page_size", DEFAULT_PAGE_SIZE))

    def locations(self) -> list[ExternalLocation]:
        """Leaf, enabled warehouses (group warehouses hold no stock of their own)."""
        found: list[ExternalLocation] = []
        for body in self._pages("Warehouse", WAREHOUSE_FIELDS, WAREHOUSE_FILTERS, NAME_ORDER):
            for index, row in enumerate(parsing.data_rows(body)):
                location = parsing.warehouse_location(row, index)
                if location is not None:
                    found.append(location)
        return found

    def positions(self, *, changed_since: dt.datetime | None = None) -> Iterator[Page[PositionRecord]]:
        """Every Bin (item × warehouse balance), one page per response.

        Always a full read (`reads_changed_positions` stays False): Bin.modified is stamped by the
        ERP's own clock, which may be skewed by an unknown offset, so a `modified >` filter built
        from the hub's clock could skip changes.
        """
        for body in self._pages("Bin", BIN_FIELDS, (), NAME_ORDER):
            rows = parsing.data_rows(body)
            yield Page(records=tuple(parsing.bin_position(row, i, self.zone) for i, row in enumerate(rows)))

    def events(self, *, since: str | None) -> Iterator[Page[EventRecord]]:
        """Stock Ledger Entries created at or after the cursor (the last `creation` the ERP rendered)."""
        start = since if since is not None else self._history_start()
        filters: list[tuple[str, str, Any]] = [("is_cancelled", "=", 0)]
        if start is not None:
            # `>=`, not `>`: entries sharing the cursor's creation stamp may straddle two polls;
            # the pipeline deduplicates by name.
            filters.append(("creation", ">=", start))
        fields = LEDGER_FIELDS if self.config.options.get("posting_datetime", True) else _without_posting_datetime()
        balances: parsing.Balances = {}
        cursor = start
        for body in self._pages("Stock Ledger Entry", fields, filters, LEDGER_ORDER):
            rows = parsing.data_rows(body)
            records = [parsing.ledger_event(row, i, self.zone, balances) for i, row in enumerate(rows)]
            if rows:
                cursor = parsing.naive_text(rows[-1], "creation", f"data[{len(rows) - 1}]")
            yield Page(records=tuple(r for r in records if r is not None), cursor=cursor)

    def _pages(
        self, doctype: str, fields: Sequence[str], filters: Sequence[Sequence[Any]], order_by: str
    ) -> Iterator[Any]:
        """Raw bodies page by page with limit_start, until a page shorter than the page size."""
        with FrappeClient(
            base_url=self.config.base_url,
            credentials=self.config.credentials,
            transport=self.transport,
            sleep=self.sleep,
        ) as client:
            start = 0
            while True:
                body = client.get_list(
                    doctype,
                    fields=fields,
                    filters=filters,
                    order_by=order_by,
                    limit_start=start,
                    limit_page_length=self.page_size,
                )
                yield body
                count = len(parsing.data_rows(body))
                if count < self.page_size:
                    return
                start += count

    def _history_start(self) -> str | None:
        """`options["history_start"]` rendered as the ERP renders datetimes (site-local, naive)."""
        raw = self.config.options.get("history_start")
        if raw in (None, ""):
            return None
        try:
            moment = dt.datetime.fromisoformat(str(raw))
        except ValueError:
            raise PermanentConnectorError(
                f"ERPNext connector option history_start {raw!r} is not an ISO datetime."
            ) from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(self.zone).replace(tzinfo=None)
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _page_size(value: Any) -> int:
    # 0 would mean "every row" to Frappe and break limit_start paging; refuse it early.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PermanentConnectorError(f"ERPNext connector option page_size {value!r} is not a positive integer.")
    return value


def _without_posting_datetime() -> tuple[str, ...]:
    return tuple(f for f in LEDGER_FIELDS if f != "posting_datetime")
