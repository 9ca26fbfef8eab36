"""The sandbox's ERPNext REST API: Frappe's envelope, list parameters, doctype fields, auth and clock."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from inventory_hub.sandbox.erpnext import DOCTYPES, STANDARD_FIELDS, ErpNextApi
from inventory_hub.sandbox.http import Request
from tests.sandbox.worlds import small_world

FIXTURES = Path(__file__).parents[1] / "fixtures" / "erpnext"
DOCTYPE_FILES = {"Bin": "bin.json", "Stock Ledger Entry": "stock_ledger_entry.json", "Warehouse": "warehouse.json"}
NO_VALUE = {"Section Break", "Column Break", "Tab Break", "HTML", "Button", "Heading", "Fold", "Image"}
AUTH = {"Authorization": "token sandbox-key:sandbox-secret"}


def doctype_fields(doctype: str) -> dict[str, str]:
    spec = json.loads((FIXTURES / DOCTYPE_FILES[doctype]).read_text())
    return {f["fieldname"]: f["fieldtype"] for f in spec["fields"] if f["fieldtype"] not in NO_VALUE}


def get(api: ErpNextApi, path: str, headers: dict[str, str] | None = None, **params: Any) -> tuple[int, Any]:
    query = urlencode({k: v if isinstance(v, str | int) else json.dumps(v) for k, v in params.items()})
    response = api.handle(Request.build("GET", path, query_string=query, headers=AUTH if headers is None else headers))
    return response.status, json.loads(response.body)


def names(api: ErpNextApi, path: str, **params: Any) -> list[str]:
    status, body = get(api, path, **params)
    assert status == 200, body
    return [row["name"] for row in body["data"]]


@pytest.mark.parametrize("doctype", list(DOCTYPE_FILES))
def test_the_served_fields_of_each_doctype_are_those_of_its_doctype_json(doctype):
    fields = DOCTYPES[doctype]["fields"]

    assert fields == doctype_fields(doctype)


@pytest.mark.parametrize(
    "path",
    [
        "/api/resource/Bin",
        "/api/resource/Stock%20Ledger%20Entry",
        "/api/resource/Stock Ledger Entry",
        "/api/resource/Warehouse",
    ],
)
def test_all_fields_are_only_doctype_fields_and_frappes_standard_ones(path):
    api = ErpNextApi(small_world())

    status, body = get(api, path, fields=["*"], limit_page_length=0)

    doctype = path.rsplit("/", 1)[1].replace("%20", " ")
    assert status == 200
    assert body["data"]
    assert all(set(row) == set(doctype_fields(doctype)) | set(STANDARD_FIELDS) for row in body["data"])


def test_a_list_defaults_to_the_name_field_and_20_rows():
    api = ErpNextApi(small_world(skus=15))

    status, body = get(api, "/api/resource/Bin")

    assert status == 200
    assert len(body["data"]) == 20
    assert all(list(row) == ["name"] for row in body["data"])


def test_a_bin_renders_floats_and_naive_erp_time_strings():
    api = ErpNextApi(small_world())

    status, body = get(api, "/api/resource/Bin/MAT-BIN-2026-00004")

    assert status == 200
    assert {
        k: body["data"][k]
        for k in (
            "name",
            "item_code",
            "warehouse",
            "actual_qty",
            "reserved_qty",
            "ordered_qty",
            "projected_qty",
            "stock_uom",
            "docstatus",
            "idx",
            "creation",
            "modified",
        )
    } == {
        "name": "MAT-BIN-2026-00004",
        "item_code": "SKU-0001",
        "warehouse": "Store B - ACME",
        "actual_qty": 41.0,
        "reserved_qty": 1.0,
        "ordered_qty": 0.0,
        "projected_qty": 40.0,
        "stock_uom": "Nos",
        "docstatus": 0,
        "idx": 0,
        "creation": "2026-11-02 01:58:30.000000",
        "modified": "2026-11-02 02:13:30.000000",
    }


def test_erp_stamps_are_on_the_erp_clock_while_posting_times_are_the_movements_own():
    world = small_world()
    api = ErpNextApi(world)

    status, body = get(api, "/api/resource/Stock Ledger Entry/MAT-SLE-2026-00001")

    # true times: posted 08:10 UTC, recorded 08:25 UTC; the ERP is in Chicago (UTC-6) and its clock 90 s slow
    assert status == 200
    assert {
        k: body["data"][k]
        for k in (
            "posting_date",
            "posting_time",
            "posting_datetime",
            "creation",
            "modified",
            "docstatus",
            "company",
            "actual_qty",
            "qty_after_transaction",
        )
    } == {
        "posting_date": "2026-11-02",
        "posting_time": "02:10:00.000000",
        "posting_datetime": "2026-11-02 02:10:00.000000",
        "creation": "2026-11-02 02:23:30.000000",
        "modified": "2026-11-02 02:23:30.000000",
        "docstatus": 1,
        "company": "ACME",
        "actual_qty": -9.0,
        "qty_after_transaction": 41.0,
    }


def test_warehouses_are_one_per_location_under_all_warehouses():
    api = ErpNextApi(small_world())

    status, body = get(
        api,
        "/api/resource/Warehouse",
        fields=["name", "warehouse_name", "company", "is_group", "parent_warehouse", "disabled"],
        order_by="name asc",
    )

    assert status == 200
    assert body["data"] == [
        {
            "name": "Fulfillment Center - ACME",
            "warehouse_name": "Fulfillment Center",
            "company": "ACME",
            "is_group": 0,
            "parent_warehouse": "All Warehouses - ACME",
            "disabled": 0,
        },
        {
            "name": "Store B - ACME",
            "warehouse_name": "Store B",
            "company": "ACME",
            "is_group": 0,
            "parent_warehouse": "All Warehouses - ACME",
            "disabled": 0,
        },
    ]


def test_filters_greater_than_compares_datetimes_as_times():
    api = ErpNextApi(small_world())

    result = names(
        api,
        "/api/resource/Stock Ledger Entry",
        filters=[["creation", ">", "2026-11-02 02:43:30"]],
        order_by="creation asc",
    )

    assert result == ["MAT-SLE-2026-00004", "MAT-SLE-2026-00005", "MAT-SLE-2026-00006"]


def test_filters_in_and_dict_equality_and_the_four_element_form():
    api = ErpNextApi(small_world())

    by_in = names(
        api, "/api/resource/Bin", filters=[["Bin", "item_code", "in", ["SKU-0001", "SKU-0003"]]], order_by="name asc"
    )
    by_dict = names(api, "/api/resource/Bin", filters={"warehouse": "Store B - ACME", "item_code": "SKU-0002"})

    assert by_in == ["MAT-BIN-2026-00001", "MAT-BIN-2026-00003", "MAT-BIN-2026-00004", "MAT-BIN-2026-00006"]
    assert by_dict == ["MAT-BIN-2026-00005"]


def test_between_includes_both_ends_and_a_bare_end_date_means_its_whole_day():
    api = ErpNextApi(small_world())

    inside = names(
        api,
        "/api/resource/Stock Ledger Entry",
        filters=[["posting_datetime", "between", ["2026-11-02 02:20:00", "2026-11-02 02:40:00"]]],
        order_by="name asc",
    )
    whole_day = names(
        api,
        "/api/resource/Stock Ledger Entry",
        filters=[["posting_datetime", "between", ["2026-11-02", "2026-11-02"]]],
        limit_page_length=0,
    )

    assert inside == ["MAT-SLE-2026-00002", "MAT-SLE-2026-00003", "MAT-SLE-2026-00004"]
    assert len(whole_day) == 6


def test_or_filters_keep_rows_matching_any_and_like_and_is_set_work():
    api = ErpNextApi(small_world())

    either = names(
        api,
        "/api/resource/Bin",
        or_filters=[["item_code", "=", "SKU-0001"], ["actual_qty", ">=", 43]],
        order_by="name asc",
    )
    like = names(
        api, "/api/resource/Warehouse", filters=[["name", "like", "%store%"], ["parent_warehouse", "is", "set"]]
    )

    assert either == ["MAT-BIN-2026-00001", "MAT-BIN-2026-00003", "MAT-BIN-2026-00004", "MAT-BIN-2026-00006"]
    assert like == ["Store B - ACME"]


def test_order_by_and_limit_start_select_the_page():
    api = ErpNextApi(small_world())

    result = names(
        api, "/api/resource/Stock Ledger Entry", order_by="posting_datetime desc", limit_start=1, limit_page_length=2
    )

    assert result == ["MAT-SLE-2026-00005", "MAT-SLE-2026-00004"]


def test_the_default_order_is_the_doctypes_sort_field_then_name():
    api = ErpNextApi(small_world())

    bins = names(api, "/api/resource/Bin")

    # Bin's doctype sorts `modified ASC`; each SKU's bins share a modified stamp
    assert bins == [
        "MAT-BIN-2026-00001",
        "MAT-BIN-2026-00004",
        "MAT-BIN-2026-00002",
        "MAT-BIN-2026-00005",
        "MAT-BIN-2026-00003",
        "MAT-BIN-2026-00006",
    ]


@pytest.mark.parametrize("page_size", [1, 2])
@pytest.mark.parametrize(
    "params", [{"path": "/api/resource/Bin"}, {"path": "/api/resource/Stock Ledger Entry", "order_by": "creation asc"}]
)
def test_pages_walk_every_row_exactly_once(page_size, params):
    api = ErpNextApi(small_world(skus=4))
    path, extra = params["path"], {k: v for k, v in params.items() if k != "path"}
    seen: list[str] = []

    while page := names(api, path, limit_start=len(seen), limit_page_length=page_size, **extra):
        seen += page

    assert len(seen) == 8
    assert sorted(seen) == sorted(set(seen))


def test_limit_page_length_zero_returns_every_row_and_limit_is_an_alias():
    api = ErpNextApi(small_world(skus=15))

    every = names(api, "/api/resource/Bin", limit_page_length=0)
    aliased = names(api, "/api/resource/Bin", limit=5)

    assert len(every) == 30
    assert aliased == every[:5]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"fields": ["name", "qty"]}, "qty"),
        ({"filters": [["no_such", "=", 1]]}, "no_such"),
        ({"order_by": "nope desc"}, "nope"),
    ],
)
def test_an_unknown_field_is_refused_with_frappes_data_error(params, field):
    api = ErpNextApi(small_world())

    status, body = get(api, "/api/resource/Bin", **params)

    assert status == 417
    assert body["exc_type"] == "DataError"
    assert body["exception"] == f"frappe.exceptions.DataError: Field not permitted in query: {field}"
    assert [json.loads(m)["message"] for m in json.loads(body["_server_messages"])] == [
        f"Field not permitted in query: {field}"
    ]


def test_a_missing_document_is_a_does_not_exist_error_without_traceback():
    api = ErpNextApi(small_world())

    status, body = get(api, "/api/resource/Bin/MAT-BIN-2099-99999")

    assert status == 404
    assert body == {
        "exc_type": "DoesNotExistError",
        "exception": "frappe.exceptions.DoesNotExistError: Bin MAT-BIN-2099-99999 not found",
        "_server_messages": json.dumps(
            [
                json.dumps(
                    {
                        "message": "Bin MAT-BIN-2099-99999 not found",
                        "title": "Message",
                        "indicator": "red",
                        "raise_exception": 1,
                    }
                )
            ]
        ),
    }


@pytest.mark.parametrize(
    "authorization",
    [
        "token sandbox-key:wrong",
        "token other:sandbox-secret",
        "Basic " + base64.b64encode(b"sandbox-key:wrong").decode(),
        "Bearer sandbox-key:sandbox-secret",
    ],
)
def test_wrong_credentials_get_frappes_401_authentication_error(authorization):
    api = ErpNextApi(small_world())

    status, body = get(api, "/api/resource/Bin", headers={"Authorization": authorization})

    assert status == 401
    assert {k: body[k] for k in ("exc_type", "exception")} == {
        "exc_type": "AuthenticationError",
        "exception": "frappe.exceptions.AuthenticationError",
    }
    assert "data" not in body


def test_no_credentials_is_a_guest_refused_with_403():
    api = ErpNextApi(small_world())

    status, body = get(api, "/api/resource/Bin", headers={})

    assert status == 403
    assert body["exc_type"] == "PermissionError"
    assert "data" not in body


def test_basic_credentials_are_accepted_like_a_token():
    api = ErpNextApi(small_world())
    basic = {"Authorization": "Basic " + base64.b64encode(b"sandbox-key:sandbox-secret").decode()}

    status, body = get(api, "/api/method/frappe.auth.get_logged_user", headers=basic)

    assert status == 200
    assert body == {"message": "sandbox@acme.example"}
