"""ERPNext (Frappe REST) payloads → the hub's records. Pure functions, no I/O.

Frappe renders Datetime fields as naive `YYYY-MM-DD HH:MM:SS[.ffffff]` strings in the site's time
zone and Float fields as JSON numbers (APIS.md §3.3, FRAPPE_REST_ENVELOPE.md). Anything else is a
shape we do not understand: a PermanentConnectorError naming the field path (`data[7].actual_qty`),
so the connector is disabled with a reason a person can act on.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from inventory_hub.connectors.base import EventRecord, ExternalLocation, PermanentConnectorError, PositionRecord

STOCK_RECONCILIATION = "Stock Reconciliation"
# A float this close to a whole number is float noise (11.999999999), not a fractional unit.
WHOLE_TOLERANCE = 1e-6
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{1,2}:\d{2}:\d{2}(\.\d{1,6})?")

Balances = dict[tuple[str, str], int]  # (item_code, warehouse) → last qty_after_transaction seen


def _fail(path: str, problem: str) -> PermanentConnectorError:
    return PermanentConnectorError(f"ERPNext response: {path} {problem}")


def time_zone(name: Any) -> ZoneInfo:
    """The site's time zone from the connector options; an unknown name is a permanent error."""
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise PermanentConnectorError(
            f"ERPNext connector option time_zone {name!r} is not an IANA time zone name."
        ) from None


def data_rows(body: Any) -> list[Mapping[str, Any]]:
    """The `data` list of a Frappe list response, each row checked to be an object."""
    if not isinstance(body, dict):
        raise _fail("body", f"is not an object (got {type(body).__name__})")
    rows = body.get("data")
    if not isinstance(rows, list):
        raise _fail("data", "is missing or not a list")
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise _fail(f"data[{index}]", "is not an object")
    return rows


def text(row: Mapping[str, Any], field: str, path: str) -> str:
    """A non-empty string field (Link, Data, Select)."""
    value = _present(row, field, path)
    if not isinstance(value, str) or not value:
        raise _fail(f"{path}.{field}", "is not a non-empty string")
    return value


def number(row: Mapping[str, Any], field: str, path: str) -> float:
    """A Float field as a float (JSON booleans are not numbers here)."""
    value = _present(row, field, path)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(f"{path}.{field}", "is not a number")
    return float(value)


def quantity(row: Mapping[str, Any], field: str, path: str) -> int:
    """A stock quantity as whole units; a fractional one is refused (the hub counts units)."""
    value = number(row, field, path)
    whole = round(value)
    if abs(value - whole) > WHOLE_TOLERANCE:
        raise _fail(f"{path}.{field}", f"is {value:g}, not a whole number of units")
    return int(whole)


def flag(row: Mapping[str, Any], field: str, path: str) -> bool:
    """A Check field (0/1)."""
    value = _present(row, field, path)
    if isinstance(value, bool) or value not in (0, 1):
        raise _fail(f"{path}.{field}", "is not 0 or 1")
    return value == 1


def naive_text(row: Mapping[str, Any], field: str, path: str) -> str:
    """A Datetime field's text exactly as the ERP rendered it, checked for shape (used as a cursor)."""
    value = _present(row, field, path)
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        raise _fail(f"{path}.{field}", f"is not a datetime like 'YYYY-MM-DD HH:MM:SS' (got {value!r})")
    return value


def site_datetime(row: Mapping[str, Any], field: str, path: str, zone: ZoneInfo) -> dt.datetime:
    """A Datetime field (naive, site time zone) as an aware UTC datetime."""
    return to_utc(dt.datetime.fromisoformat(naive_text(row, field, path)), zone)


def to_utc(naive: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Site-local naive → aware UTC.

    In the repeated hour when clocks go back the naive value is ambiguous and ERPNext stores no
    offset; fold=0 (the earlier, summer-time reading) is zoneinfo's default and ours.
    """
    return naive.replace(tzinfo=zone).astimezone(dt.UTC)


def warehouse_location(row: Mapping[str, Any], index: int) -> ExternalLocation | None:
    """A Warehouse row → its location; None for group or disabled warehouses (stock lives in leaves)."""
    path = f"data[{index}]"
    name = text(row, "name", path)
    if flag(row, "is_group", path) or flag(row, "disabled", path):
        return None
    return ExternalLocation(external_id=name, name=text(row, "warehouse_name", path))


def bin_position(row: Mapping[str, Any], index: int, zone: ZoneInfo) -> PositionRecord:
    """A Bin row → a position. Available is actual − reserved: ERPNext has no "free to sell" field."""
    path = f"data[{index}]"
    on_hand = quantity(row, "actual_qty", path)
    allocated = quantity(row, "reserved_qty", path)
    return PositionRecord(
        external_location_id=text(row, "warehouse", path),
        sku=text(row, "item_code", path),
        on_hand=on_hand,
        allocated=allocated,
        available=on_hand - allocated,
        incoming=quantity(row, "ordered_qty", path),
        as_of=site_datetime(row, "modified", path, zone),
    )


def posting_moment(row: Mapping[str, Any], path: str, zone: ZoneInfo) -> dt.datetime:
    """When the movement happened: `posting_datetime` (added 2024), else posting_date + posting_time."""
    if row.get("posting_datetime") is not None:
        return site_datetime(row, "posting_datetime", path, zone)
    date = _present(row, "posting_date", path)
    if not isinstance(date, str) or not _DATE.fullmatch(date):
        raise _fail(f"{path}.posting_date", f"is not a date like 'YYYY-MM-DD' (got {date!r})")
    time = _present(row, "posting_time", path)
    if not isinstance(time, str) or not _TIME.fullmatch(time):
        raise _fail(f"{path}.posting_time", f"is not a time like 'HH:MM:SS' (got {time!r})")
    hours, _, rest = time.partition(":")
    return to_utc(dt.datetime.fromisoformat(f"{date} {int(hours):02d}:{rest}"), zone)


def ledger_event(row: Mapping[str, Any], index: int, zone: ZoneInfo, balances: Balances) -> EventRecord | None:
    """A Stock Ledger Entry row → an event, updating `balances`; None for a cancelled entry.

    A Stock Reconciliation *sets* the balance and real ERPNext may leave its `actual_qty` unset
    (frappe/erpnext#29948), so its delta is derived from the previous balance seen in this stream
    for the same item and warehouse; without one we can only trust `actual_qty`.
    """
    path = f"data[{index}]"
    name = text(row, "name", path)
    if flag(row, "is_cancelled", path):
        return None  # cancelled entries and their reversals both carry is_cancelled = 1
    sku = text(row, "item_code", path)
    warehouse = text(row, "warehouse", path)
    voucher_type = text(row, "voucher_type", path)
    text(row, "voucher_no", path)  # kept in raw for tracing: check it is there
    naive_text(row, "creation", path)  # kept in raw for sync-lag measurement and as the cursor
    after = quantity(row, "qty_after_transaction", path)
    previous = balances.get((sku, warehouse))
    if voucher_type == STOCK_RECONCILIATION and previous is not None:
        delta = after - previous
    elif voucher_type == STOCK_RECONCILIATION and row.get("actual_qty") is None:
        delta = 0  # unset and nothing to derive it from; the running balance is still right
    else:
        delta = quantity(row, "actual_qty", path)
    balances[(sku, warehouse)] = after
    return EventRecord(
        source_event_id=name,
        kind="adjustment" if voucher_type == STOCK_RECONCILIATION else "sync_import",
        external_location_id=warehouse,
        sku=sku,
        delta=delta,
        quantity_after=after,
        occurred_at=posting_moment(row, path, zone),
        raw=dict(row),
    )


def _present(row: Mapping[str, Any], field: str, path: str) -> Any:
    if field not in row:
        raise _fail(f"{path}.{field}", "is missing")
    value = row[field]
    if value is None:
        raise _fail(f"{path}.{field}", "is null")
    return value
