"""The simulated ERPNext (Frappe v15) REST API (the ERP), over the shared World. Read-only.

Served (APIS.md §3.2, FRAPPE_REST_ENVELOPE.md): `GET /api/resource/<DocType>` (list),
`GET /api/resource/<DocType>/<name>`, `GET /api/method/frappe.auth.get_logged_user`, also under
`/api/v1/`. Doctypes: Bin, Stock Ledger Entry, Warehouse. Rows carry the doctype's own data fields
(schemas/erpnext doctype JSON, v15.109.0) plus Frappe's standard fields, nothing else.

Frappe behaviours reproduced, and where they come from:
- Auth: `token <key>:<secret>` or `Basic base64(key:secret)`. A wrong key or secret raises a bare
  `frappe.AuthenticationError` (HTTP 401; v15 `frappe/api/__init__.py` `validate_api_key_secret`);
  no Authorization header leaves the request as Guest, whose list read fails with
  `PermissionError` (HTTP 403).
- Error bodies (`frappe.utils.response.report_error`): `exc_type`, `exception` (last traceback line),
  `exc` (JSON list holding the traceback; left out for 404) and, when something was msgprinted,
  `_server_messages` (a JSON string of a list of JSON strings).
- An unknown field in `fields`, `filters`, `or_filters` or `order_by`: `DataError`
  "Field not permitted in query: <field>" (DataError subclasses ValidationError, HTTP 417), the error
  Frappe's query builder raises for a field it will not put in SQL.
- Default order: the doctype's `sort_field sort_order` (Bin `modified ASC`; SLE and Warehouse
  `modified DESC`), then `name` so that pages never overlap; default page 20; `limit_page_length=0`
  = all; default fields `["name"]`.
- Datetimes are naive strings on the ERP's own clock (`World.erp_clock`) in its time zone,
  `YYYY-MM-DD HH:MM:SS.ffffff`; dates `YYYY-MM-DD`; times `HH:MM:SS.ffffff`; Float fields are floats.
  An SLE's posting date/time is the movement's true time in the ERP's time zone (a business value
  typed in, not a stamp of the ERP's clock); its `creation`/`modified` are on the ERP clock.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from inventory_hub.sandbox.http import Request, Response
from inventory_hub.sandbox.world import ErpBin, ErpLedgerEntry, Location, World

LOGGED_USER = "sandbox@acme.example"
OWNER = "Administrator"
STOCK_UOM = "Nos"
DEFAULT_PAGE_LENGTH = 20
STANDARD_FIELDS = {
    "name": "Data",
    "owner": "Link",
    "creation": "Datetime",
    "modified": "Datetime",
    "modified_by": "Link",
    "docstatus": "Int",
    "idx": "Int",
}
NO_VALUE_TYPES = {"Section Break", "Column Break", "Tab Break", "HTML", "Button", "Heading", "Fold", "Image"}
NUMBER_TYPES = {"Float", "Currency", "Percent"}
INT_TYPES = {"Int", "Check"}

# The data fields of each served doctype: fieldname → fieldtype, from its v15 doctype JSON
# (tests/fixtures/erpnext/*.json; a test checks these against the files).
DOCTYPES: dict[str, dict[str, Any]] = {
    "Bin": {
        "sort": ("modified", "asc"),
        "fields": {
            "warehouse": "Link",
            "item_code": "Link",
            "reserved_qty": "Float",
            "actual_qty": "Float",
            "ordered_qty": "Float",
            "indented_qty": "Float",
            "planned_qty": "Float",
            "projected_qty": "Float",
            "reserved_qty_for_production": "Float",
            "reserved_qty_for_sub_contract": "Float",
            "stock_uom": "Link",
            "valuation_rate": "Float",
            "stock_value": "Float",
            "reserved_qty_for_production_plan": "Float",
            "reserved_stock": "Float",
        },
    },
    "Stock Ledger Entry": {
        "sort": ("modified", "desc"),
        "fields": {
            "item_code": "Link",
            "serial_no": "Long Text",
            "batch_no": "Data",
            "warehouse": "Link",
            "posting_date": "Date",
            "posting_time": "Time",
            "voucher_type": "Link",
            "voucher_no": "Dynamic Link",
            "voucher_detail_no": "Data",
            "actual_qty": "Float",
            "incoming_rate": "Currency",
            "outgoing_rate": "Currency",
            "stock_uom": "Link",
            "qty_after_transaction": "Float",
            "valuation_rate": "Currency",
            "stock_value": "Currency",
            "stock_value_difference": "Currency",
            "stock_queue": "Long Text",
            "project": "Link",
            "company": "Link",
            "fiscal_year": "Data",
            "is_cancelled": "Check",
            "to_rename": "Check",
            "dependant_sle_voucher_detail_no": "Data",
            "recalculate_rate": "Check",
            "serial_and_batch_bundle": "Link",
            "has_batch_no": "Check",
            "has_serial_no": "Check",
            "is_adjustment_entry": "Check",
            "auto_created_serial_and_batch_bundle": "Check",
            "posting_datetime": "Datetime",
        },
    },
    "Warehouse": {
        "sort": ("modified", "desc"),
        "fields": {
            "warehouse_name": "Data",
            "is_group": "Check",
            "company": "Link",
            "disabled": "Check",
            "account": "Link",
            "email_id": "Data",
            "phone_no": "Data",
            "mobile_no": "Data",
            "address_line_1": "Data",
            "address_line_2": "Data",
            "city": "Data",
            "state": "Data",
            "pin": "Data",
            "parent_warehouse": "Link",
            "lft": "Int",
            "rgt": "Int",
            "old_parent": "Link",
            "warehouse_type": "Link",
            "default_in_transit_warehouse": "Link",
            "is_rejected_warehouse": "Check",
        },
    },
}
OPERATORS = {"=", "!=", ">", "<", ">=", "<=", "like", "not like", "in", "not in", "is", "between"}


class FrappeError(Exception):
    """An exception Frappe would turn into an error response."""

    def __init__(self, exc_type: str, status: int, message: str | None = None) -> None:
        super().__init__(message or exc_type)
        self.exc_type, self.status, self.message = exc_type, status, message


def error_response(error: FrappeError) -> Response:
    exception = f"frappe.exceptions.{error.exc_type}" + (f": {error.message}" if error.message else "")
    body: dict[str, Any] = {"exc_type": error.exc_type, "exception": exception}
    if error.status != 404:  # report_error leaves the traceback out of 404s
        traceback = f'Traceback (most recent call last):\n  File "apps/frappe/frappe/app.py", line 114, in application\n{exception}\n'
        body["exc"] = json.dumps([traceback])
    if error.message:
        message = {"message": error.message, "title": "Message", "indicator": "red", "raise_exception": 1}
        body["_server_messages"] = json.dumps([json.dumps(message)])
    return Response.json(body, status=error.status)


class ErpNextApi:
    """ERPNext's REST API for one World (read-only: the sandbox user may only read)."""

    def __init__(self, world: World) -> None:
        self.world = world

    def handle(self, request: Request) -> Response:
        try:
            return self._route(request)
        except FrappeError as error:
            return error_response(error)

    def _route(self, request: Request) -> Response:
        path = unquote(request.path)
        path = re.sub(r"^/api/v1/", "/api/", path)
        user = self._authenticate(request.headers.get("authorization"))
        if path.startswith("/api/method/"):
            if path.removeprefix("/api/method/").rstrip("/") != "frappe.auth.get_logged_user":
                raise FrappeError("DoesNotExistError", 404, f"Method {path.removeprefix('/api/method/')} not found")
            if user is None:
                raise FrappeError("PermissionError", 403, "Not permitted")
            return Response.json({"message": user})
        if not path.startswith("/api/resource/"):
            raise FrappeError("DoesNotExistError", 404, "Page not found")
        doctype, _, name = path.removeprefix("/api/resource/").partition("/")
        if doctype not in DOCTYPES:
            raise FrappeError("DoesNotExistError", 404, f"DocType {doctype} not found")
        if user is None or request.method != "GET":
            raise FrappeError("PermissionError", 403, f"Insufficient Permission for {doctype}")
        with self.world.lock:
            rows = self._rows(doctype)
        if name:
            row = next((r for r in rows if r["name"] == name), None)
            if row is None:
                raise FrappeError("DoesNotExistError", 404, f"{doctype} {name} not found")
            return Response.json({"data": _render(row)})
        return Response.json({"data": list_rows(doctype, rows, request)})

    def _authenticate(self, header: str | None) -> str | None:
        """The logged user for a valid key:secret, None for Guest (no header); raise on a wrong one."""
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                token = base64.b64decode(token.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise FrappeError(
                    "InvalidAuthorizationToken",
                    401,
                    "Failed to decode token, please provide a valid base64-encoded token.",
                ) from exc
        elif scheme.lower() != "token":
            raise FrappeError("AuthenticationError", 401)
        key, _, secret = token.strip().partition(":")
        credentials = self.world.credentials
        if key != credentials.erpnext_api_key or secret != credentials.erpnext_api_secret:
            raise FrappeError("AuthenticationError", 401)
        return LOGGED_USER

    # --- the World as rows (native values; rendered at the end) ---------------------------------

    def _rows(self, doctype: str) -> list[dict[str, Any]]:
        if doctype == "Bin":
            return [self._bin(b) for b in self.world.erp_bins.values()]
        if doctype == "Stock Ledger Entry":
            return [self._sle(e) for e in self.world.erp_ledger]
        return [
            self._warehouse(i, loc) for i, loc in enumerate(sorted(self.world.locations.values(), key=lambda x: x.code))
        ]

    def _stamp(self, moment: dt.datetime) -> dt.datetime:
        """A creation/modified stamp: the ERP's clock, in its time zone, naive."""
        return self.world.erp_clock(moment).astimezone(ZoneInfo(self.world.erp_time_zone)).replace(tzinfo=None)

    def _local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(ZoneInfo(self.world.erp_time_zone)).replace(tzinfo=None)

    def _base(
        self, doctype: str, name: str, creation: dt.datetime, modified: dt.datetime, docstatus: int
    ) -> dict[str, Any]:
        row: dict[str, Any] = {
            "name": name,
            "owner": OWNER,
            "creation": self._stamp(creation),
            "modified": self._stamp(modified),
            "modified_by": OWNER,
            "docstatus": docstatus,
            "idx": 0,
        }
        for field, fieldtype in DOCTYPES[doctype]["fields"].items():
            row[field] = 0.0 if fieldtype in NUMBER_TYPES else 0 if fieldtype in INT_TYPES else None
        return row

    def _bin(self, erp_bin: ErpBin) -> dict[str, Any]:
        row = self._base("Bin", erp_bin.name, erp_bin.creation, erp_bin.modified, 0)
        row.update(
            warehouse=self.world.locations[erp_bin.location].erp_warehouse,
            item_code=erp_bin.sku,
            actual_qty=float(erp_bin.actual_qty),
            reserved_qty=float(erp_bin.reserved_qty),
            ordered_qty=float(erp_bin.ordered_qty),
            projected_qty=float(erp_bin.projected_qty),
            stock_uom=STOCK_UOM,
        )
        return row

    def _sle(self, entry: ErpLedgerEntry) -> dict[str, Any]:
        row = self._base("Stock Ledger Entry", entry.name, entry.creation, entry.creation, 1)
        posted = self._local(entry.posting_datetime)
        row.update(
            item_code=entry.sku,
            warehouse=self.world.locations[entry.location].erp_warehouse,
            posting_date=posted.date(),
            posting_time=posted.time(),
            posting_datetime=posted,
            voucher_type=entry.voucher_type,
            voucher_no=entry.voucher_no,
            actual_qty=float(entry.actual_qty),
            qty_after_transaction=float(entry.qty_after_transaction),
            stock_uom=STOCK_UOM,
            company=self.world.company,
            fiscal_year=str(posted.year),
            is_cancelled=entry.is_cancelled,
        )
        return row

    def _warehouse(self, index: int, location: Location) -> dict[str, Any]:
        head, sep, abbr = location.erp_warehouse.rpartition(" - ")
        abbr = abbr if sep else self.world.company
        row = self._base("Warehouse", location.erp_warehouse, self.world.start, self.world.start, 0)
        row.update(
            warehouse_name=head if sep else location.erp_warehouse,
            company=self.world.company,
            parent_warehouse=f"All Warehouses - {abbr}",
            lft=2 + 2 * index,
            rgt=3 + 2 * index,
        )
        return row


# --- list queries -----------------------------------------------------------------------------------


def list_rows(doctype: str, rows: list[dict[str, Any]], request: Request) -> list[Any]:
    types = {**STANDARD_FIELDS, **DOCTYPES[doctype]["fields"]}
    fields = _fields(_json_param(request, "fields", ["name"]), types)
    filters = [_condition(f, types) for f in _filter_list(_json_param(request, "filters", []))]
    or_filters = [_condition(f, types) for f in _filter_list(_json_param(request, "or_filters", []))]
    rows = [
        r for r in rows if all(test(r) for test in filters) and (not or_filters or any(test(r) for test in or_filters))
    ]
    sort_field, sort_order = DOCTYPES[doctype]["sort"]
    rows.sort(key=lambda r: r["name"])
    for field, descending in reversed(_order_by(request.param("order_by") or f"{sort_field} {sort_order}", types)):
        rows.sort(key=lambda r, f=field: (r[f] is not None, r[f] if r[f] is not None else 0), reverse=descending)
    start = _int_param(request, "limit_start", 0)
    length = _int_param(request, "limit_page_length", _int_param(request, "limit", DEFAULT_PAGE_LENGTH))
    page = rows[start:] if length == 0 else rows[start : start + length]
    if (request.param("as_dict") or "1").lower() in {"0", "false"}:
        return [[_value(r[f]) for f, _alias in fields] for r in page]
    return [{alias: _value(r[f]) for f, alias in fields} for r in page]


def _json_param(request: Request, name: str, default: Any) -> Any:
    raw = request.param(name)
    if raw is None or raw == "":
        return default
    try:
        return json.loads(raw)
    except ValueError:
        if name == "fields":
            return [part.strip() for part in raw.split(",")]
        raise FrappeError("ValidationError", 417, f"Invalid JSON in {name}") from None


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.param(name)
    try:
        return default if raw in (None, "") else max(int(raw), 0)
    except ValueError:
        raise FrappeError("ValidationError", 417, f"{name} must be an integer") from None


def _column(spec: str, types: dict[str, str]) -> str:
    """`name`, `` `tabBin`.`name` `` or `tabBin.name` → `name`; an unknown column is refused."""
    column = spec.replace("`", "").strip().split(".")[-1].strip()
    if column not in types:
        raise FrappeError("DataError", 417, f"Field not permitted in query: {spec}")
    return column


def _fields(requested: Any, types: dict[str, str]) -> list[tuple[str, str]]:
    if not isinstance(requested, list):
        requested = [requested]
    fields: list[tuple[str, str]] = []
    for spec in requested:
        if not isinstance(spec, str):
            raise FrappeError("DataError", 417, f"Field not permitted in query: {spec}")
        if spec.strip() in {"*", "`*`"} or spec.replace("`", "").strip().endswith(".*"):
            fields.extend((f, f) for f in types)
            continue
        parts = re.split(r"\s+as\s+", spec.strip(), maxsplit=1, flags=re.IGNORECASE)
        column = _column(parts[0], types)
        alias = parts[1].replace("`", "").strip() if len(parts) == 2 else column
        fields.append((column, alias))
    return fields


def _filter_list(raw: Any) -> list[tuple[str, str, Any]]:
    if isinstance(raw, dict):
        items = [
            (k, *(v if isinstance(v, list) and len(v) == 2 and v[0] in OPERATORS else ["=", v])) for k, v in raw.items()
        ]
        return [(str(f), str(op), value) for f, op, value in items]
    if not isinstance(raw, list):
        raise FrappeError("ValidationError", 417, "filters must be a list or a dict")
    conditions = []
    for item in raw:
        if isinstance(item, list) and len(item) == 4:
            item = item[1:]
        if not (isinstance(item, list) and len(item) == 3):
            raise FrappeError("ValidationError", 417, f"Invalid filter: {item}")
        conditions.append((str(item[0]), str(item[1]).lower().strip(), item[2]))
    return conditions


def _condition(condition: tuple[str, str, Any], types: dict[str, str]) -> Callable[[dict[str, Any]], bool]:
    spec, operator, value = condition
    field = _column(spec, types)
    fieldtype = types[field]
    if operator not in OPERATORS:
        raise FrappeError("ValidationError", 417, f"Operator {operator} not supported")
    if operator == "is":
        wanted = str(value).lower() == "set"
        return lambda r: (r[field] not in (None, "")) == wanted
    if operator in {"like", "not like"}:
        pattern = re.compile(
            "^" + "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(value)) + "$",
            re.IGNORECASE | re.DOTALL,
        )
        positive = operator == "like"
        return lambda r: bool(pattern.match(_text(r[field]))) == positive
    if operator in {"in", "not in"}:
        values = value if isinstance(value, list) else [v.strip() for v in str(value).split(",")]
        members = {_coerce(v, fieldtype) for v in values}
        positive = operator == "in"
        return lambda r: (r[field] in members) == positive
    if operator == "between":
        if not (isinstance(value, list) and len(value) == 2):
            raise FrappeError("ValidationError", 417, "between needs [from, to]")
        low = _coerce(value[0], fieldtype)
        high = _coerce(value[1], fieldtype, end_of_day=True)
        return lambda r: r[field] is not None and low <= r[field] <= high
    target = _coerce(value, fieldtype)
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        ">": lambda a, b: a > b,
        "<": lambda a, b: a < b,
        ">=": lambda a, b: a >= b,
        "<=": lambda a, b: a <= b,
    }
    test = compare[operator]
    return lambda r: r[field] is not None and target is not None and test(r[field], target)


def _coerce(value: Any, fieldtype: str, *, end_of_day: bool = False) -> Any:
    """A filter value as the column's type (SQL compares '2026-11-02 08:00' with a DATETIME as a time)."""
    if value is None:
        return None
    try:
        if fieldtype == "Datetime":
            text = str(value).strip()
            moment = dt.datetime.fromisoformat(text)
            if end_of_day and len(text) == 10:
                moment = moment.replace(hour=23, minute=59, second=59, microsecond=999999)
            return moment.replace(tzinfo=None)
        if fieldtype == "Date":
            return dt.date.fromisoformat(str(value).strip()[:10])
        if fieldtype == "Time":
            return dt.time.fromisoformat(str(value).strip())
        if fieldtype in NUMBER_TYPES:
            return float(value)
        if fieldtype in INT_TYPES:
            return int(value)
    except (TypeError, ValueError):
        raise FrappeError("ValidationError", 417, f"Invalid value {value!r} for a {fieldtype} field") from None
    return str(value)


def _order_by(raw: str, types: dict[str, str]) -> list[tuple[str, bool]]:
    keys = []
    for part in raw.split(","):
        words = part.strip().rsplit(None, 1)
        if not words:
            continue
        direction = words[1].lower() if len(words) == 2 and words[1].lower() in {"asc", "desc"} else "asc"
        spec = words[0] if len(words) == 2 and words[1].lower() in {"asc", "desc"} else part.strip()
        keys.append((_column(spec, types), direction == "desc"))
    return keys


def _text(value: Any) -> str:
    rendered = _value(value)
    return "" if rendered is None else str(rendered)


def _value(value: Any) -> Any:
    """Frappe's wire form of a column value."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S.%f")
    return value


def _render(row: dict[str, Any]) -> dict[str, Any]:
    return {field: _value(value) for field, value in row.items()}
