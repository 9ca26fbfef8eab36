from __future__ import annotations

import datetime as dt
import json

import pytest

from inventory_hub.sandbox.faults import (
    DroppedConnection,
    FaultPlan,
    SimulatedTimeout,
    SystemFaults,
    graphql_operation,
)
from inventory_hub.sandbox.http import Request, Response

NOW = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
REAL_BODY = {"data": {"warehouse_products": {"data": {"edges": [{"node": {"sku": "SKU-0001", "on_hand": 42}}]}}}}


class Recorder:
    """A product API's handler that answers a fixed JSON body and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request: Request) -> Response:
        self.calls += 1
        return Response.json(REAL_BODY)


class FakeSleep:
    def __init__(self) -> None:
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


def graphql_request(query: str = "query { warehouse_products { data { edges { node { sku } } } } }") -> Request:
    return Request.build("POST", "/graphql", body=json.dumps({"query": query}).encode())


def statuses(plan: FaultPlan, system: str, count: int) -> list[int]:
    return [plan.apply(system, graphql_request(), Recorder(), now=NOW).status for _ in range(count)]


def test_queued_429_fails_the_next_requests_then_lets_them_through() -> None:
    plan = FaultPlan()
    plan.queue("shopify", "429", times=2, retry_after=3)
    handler = Recorder()

    responses = [plan.apply("shopify", graphql_request(), handler, now=NOW) for _ in range(3)]

    assert [r.status for r in responses] == [429, 429, 200]
    assert [dict(r.headers).get("Retry-After") for r in responses] == ["3.0", "3.0", None]
    assert handler.calls == 1
    assert plan.pending("shopify") == 0


def test_queued_faults_apply_only_to_their_system() -> None:
    plan = FaultPlan()
    plan.queue("erpnext", "5xx", times=1)

    other = [plan.apply(system, graphql_request(), Recorder()).status for system in ("shopify", "shiphero")]
    erp = plan.apply("erpnext", graphql_request(), Recorder()).status

    assert other == [200, 200]
    assert erp == 503


def test_queued_faults_run_in_the_order_they_were_queued() -> None:
    plan = FaultPlan()
    plan.queue("shiphero", "5xx")
    plan.queue("shiphero", "error_200")
    plan.queue("shiphero", "429", retry_after=7)

    responses = [plan.apply("shiphero", graphql_request(), Recorder()) for _ in range(4)]

    assert [r.status for r in responses] == [503, 200, 429, 200]
    assert "errors" in json.loads(responses[1].body)
    assert dict(responses[2].headers)["Retry-After"] == "7"
    assert json.loads(responses[3].body) == REAL_BODY


def test_shopify_503_is_its_html_error_page_with_a_request_id() -> None:
    plan = FaultPlan(seed=3)
    plan.queue("shopify", "5xx")
    handler = Recorder()

    response = plan.apply("shopify", graphql_request(), handler, now=NOW)

    headers = dict(response.headers)
    assert response.status == 503
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["X-Request-Id"].endswith(f"-{int(NOW.timestamp())}")
    assert b"https://github.com/Shopify/error-pages" in response.body
    assert f"Request ID: {headers['X-Request-Id']}".encode() in response.body
    assert handler.calls == 0


def test_shiphero_503_is_a_proxy_html_page() -> None:
    plan = FaultPlan()
    plan.queue("shiphero", "5xx")

    response = plan.apply("shiphero", graphql_request(), Recorder())

    assert response.status == 503
    assert dict(response.headers)["Content-Type"] == "text/html; charset=utf-8"
    assert b"<title>503 Service Temporarily Unavailable</title>" in response.body


def test_erpnext_503_is_frappes_session_stopped_body() -> None:
    plan = FaultPlan()
    plan.queue("erpnext", "5xx")

    response = plan.apply("erpnext", Request.build("GET", "/api/resource/Bin"), Recorder())

    assert response.status == 503
    assert dict(response.headers)["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(response.body) == {
        "exc_type": "SessionStopped",
        "exception": "frappe.exceptions.SessionStopped: Session Stopped",
    }


def test_shopify_429_carries_its_rest_message_and_a_decimal_retry_after() -> None:
    plan = FaultPlan()
    plan.queue("shopify", "429", retry_after=4)

    response = plan.apply("shopify", graphql_request(), Recorder())

    assert response.status == 429
    assert dict(response.headers)["Retry-After"] == "4.0"
    assert json.loads(response.body) == {
        "errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
    }


def test_shiphero_429_carries_retry_after_in_seconds() -> None:
    plan = FaultPlan()
    plan.queue("shiphero", "429", retry_after=5)

    response = plan.apply("shiphero", graphql_request(), Recorder())

    assert response.status == 429
    assert dict(response.headers)["Retry-After"] == "5"
    assert json.loads(response.body) == {"message": "Too Many Requests"}


def test_erpnext_429_is_frappes_rate_limiter_text_with_its_headers() -> None:
    plan = FaultPlan()
    plan.queue("erpnext", "429", retry_after=6)

    response = plan.apply("erpnext", Request.build("GET", "/api/resource/Bin"), Recorder())

    assert response.status == 429
    assert response.body == b"Too Many Requests"
    assert dict(response.headers) == {
        "Content-Type": "text/plain; charset=utf-8",
        "Retry-After": "6",
        "X-RateLimit-Limit": "300000000",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "6",
    }


def test_shopify_error_inside_a_200_is_an_internal_server_error_with_its_request_id() -> None:
    plan = FaultPlan(seed=1)
    plan.queue("shopify", "error_200")

    response = plan.apply("shopify", graphql_request(), Recorder(), now=NOW)

    payload = json.loads(response.body)
    request_id = payload["errors"][0]["extensions"]["requestId"]
    assert response.status == 200
    assert payload == {
        "errors": [
            {
                "message": "Internal error. Looks like something went wrong on our end.\n"
                f"Request ID: {request_id} (include this in support requests).",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
            }
        ]
    }
    assert request_id.endswith(f"-{int(NOW.timestamp())}")


def test_shiphero_error_inside_a_200_names_the_operation_and_nulls_its_data() -> None:
    plan = FaultPlan()
    plan.queue("shiphero", "error_200")

    response = plan.apply(
        "shiphero", graphql_request("query Q { inventory_changes { data { edges { node { sku } } } } }"), Recorder()
    )

    payload = json.loads(response.body)
    error = payload["errors"][0]
    assert response.status == 200
    assert payload["data"] == {"inventory_changes": None}
    assert {k: v for k, v in error.items() if k != "request_id"} == {
        "message": "Internal Server Error. Please try again; if it persists, contact support with the request_id.",
        "operation": "inventory_changes",
        "field": "inventory_changes",
        "code": 9,
    }
    assert len(error["request_id"]) == 24
    int(error["request_id"], 16)


def test_erpnext_error_inside_a_200_is_a_frappe_exception_body() -> None:
    plan = FaultPlan()
    plan.queue("erpnext", "error_200")

    response = plan.apply("erpnext", Request.build("GET", "/api/resource/Bin"), Recorder())

    payload = json.loads(response.body)
    assert response.status == 200
    assert payload["exc_type"] == "QueryDeadlockError"
    assert payload["exception"] == (
        "frappe.exceptions.QueryDeadlockError: (1213, 'Deadlock found when trying to get lock; try restarting transaction')"
    )
    assert [json.loads(m) for m in json.loads(payload["_server_messages"])] == [
        {
            "message": "Deadlock found when trying to get lock; try restarting transaction",
            "title": "Message",
            "indicator": "red",
            "raise_exception": 1,
        }
    ]


@pytest.mark.parametrize("system", ["shopify", "shiphero", "erpnext"])
def test_malformed_body_is_the_real_body_cut_short_with_a_200_and_json_type(system: str) -> None:
    plan = FaultPlan()
    plan.queue(system, "malformed")
    handler = Recorder()

    response = plan.apply(system, graphql_request(), handler)

    full = json.dumps(REAL_BODY, separators=(",", ":")).encode()
    assert response.status == 200
    assert dict(response.headers)["Content-Type"] == "application/json; charset=utf-8"
    assert response.body == full[: len(full) // 2]
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.body)
    assert handler.calls == 1


@pytest.mark.parametrize("system", ["shopify", "shiphero", "erpnext"])
def test_timeout_sleeps_past_the_client_timeout_then_ends_without_a_response(system: str) -> None:
    sleep = FakeSleep()
    plan = FaultPlan(sleep=sleep, client_timeout=30.0)
    plan.queue(system, "timeout")
    handler = Recorder()

    with pytest.raises(SimulatedTimeout):
        plan.apply(system, graphql_request(), handler)

    assert sleep.slept == [31.0]
    assert handler.calls == 0


def test_timeout_can_hang_for_a_given_time() -> None:
    sleep = FakeSleep()
    plan = FaultPlan(sleep=sleep)
    plan.queue("shiphero", "timeout", seconds=2.5)

    with pytest.raises(SimulatedTimeout):
        plan.apply("shiphero", graphql_request(), Recorder())

    assert sleep.slept == [2.5]


@pytest.mark.parametrize("system", ["shopify", "shiphero", "erpnext"])
def test_dropped_connection_raises_without_calling_the_api(system: str) -> None:
    sleep = FakeSleep()
    plan = FaultPlan(sleep=sleep)
    plan.queue(system, "disconnect")
    handler = Recorder()

    with pytest.raises(DroppedConnection):
        plan.apply(system, graphql_request(), handler)

    assert handler.calls == 0
    assert sleep.slept == []


def test_latency_is_slept_before_every_request_of_that_system_only() -> None:
    sleep = FakeSleep()
    plan = FaultPlan(sleep=sleep, systems={"erpnext": SystemFaults(latency=0.4)})

    for system in ("erpnext", "shopify", "erpnext"):
        plan.apply(system, graphql_request(), Recorder())

    assert sleep.slept == [0.4, 0.4]


def test_seeded_random_faults_reproduce_the_same_sequence() -> None:
    settings = SystemFaults(p_5xx=0.2, p_429=0.2, p_error_200=0.1)

    first = statuses(FaultPlan(seed=42, systems={"shiphero": settings}), "shiphero", 40)
    second = statuses(FaultPlan(seed=42, systems={"shiphero": settings}), "shiphero", 40)
    other_seed = statuses(FaultPlan(seed=43, systems={"shiphero": settings}), "shiphero", 40)

    assert first == second
    assert first != other_seed
    assert set(first) == {200, 429, 503}


def test_a_systems_random_faults_do_not_depend_on_other_systems_traffic() -> None:
    settings = SystemFaults(p_5xx=0.3)
    quiet = FaultPlan(seed=7, systems={"shopify": settings, "erpnext": settings})
    busy = FaultPlan(seed=7, systems={"shopify": settings, "erpnext": settings})

    alone = statuses(quiet, "shopify", 20)
    interleaved = []
    for _ in range(20):
        statuses(busy, "erpnext", 3)
        interleaved.extend(statuses(busy, "shopify", 1))

    assert interleaved == alone


def test_configure_changes_one_systems_random_faults() -> None:
    plan = FaultPlan(seed=1).configure("erpnext", p_5xx=1.0)

    result = [plan.apply(s, graphql_request(), Recorder()).status for s in ("shopify", "shiphero", "erpnext")]

    assert result == [200, 200, 503]


def test_rejects_probabilities_above_one_in_total() -> None:
    with pytest.raises(ValueError, match="sum to at most 1"):
        SystemFaults(p_5xx=0.6, p_429=0.5)


def test_rejects_unknown_systems_and_fault_kinds() -> None:
    plan = FaultPlan()

    with pytest.raises(ValueError, match="unknown system 'odoo'"):
        plan.queue("odoo", "5xx")
    with pytest.raises(ValueError, match="unknown fault kind 'teapot'"):
        plan.queue("shopify", "teapot")
    assert [plan.pending(s) for s in ("shopify", "shiphero", "erpnext")] == [0, 0, 0]


def test_graphql_operation_is_the_first_top_level_field() -> None:
    body = json.dumps({"query": "mutation M($x: Int) { inventory_add(data: {sku: 1}) { request_id } }"}).encode()

    assert graphql_operation(body) == "inventory_add"
    assert graphql_operation(b"not json") == "warehouse_products"
