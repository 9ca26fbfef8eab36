"""The HTTP face of the simulated Shopify Admin GraphQL API: auth, versions, cost and throttling."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    build_schema,
    execute,
    get_operation_ast,
    parse,
)
from graphql.execution.values import get_variable_values
from graphql.language import FragmentDefinitionNode

from inventory_hub.sandbox.http import Request, Response
from inventory_hub.sandbox.shopify import errors
from inventory_hub.sandbox.shopify.cost import QueryCost
from inventory_hub.sandbox.shopify.nodes import Context, Root
from inventory_hub.sandbox.throttle import LeakyBucket
from inventory_hub.sandbox.world import World

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "shopify_admin_2025-04.subset.graphql"
API_VERSION = "2025-04"
MAX_QUERY_COST = 1000
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
_PATH = re.compile(r"^/admin/api/(?:(?P<version>\d{4}-\d{2}|unstable)/)?graphql\.json$")
_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


@cache
def schema() -> GraphQLSchema:
    """The subset of Shopify's 2025-04 Admin schema the sandbox serves (built once per process)."""
    return build_schema(SCHEMA_PATH.read_text())


@cache
def _snake(name: str) -> str:
    return _SNAKE.sub("_", name).lower()


def resolve_field(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    """Read a camelCase field from a dict key, or from the snake_case attribute/method of a node."""
    if isinstance(source, dict):
        return source.get(info.field_name)
    value = getattr(source, _snake(info.field_name), None)
    if callable(value):
        info.context.path = [str(p) for p in info.path.as_list()]
        return value(**{_snake(k): v for k, v in args.items()})
    return value


def _max_cost_error(cost: int) -> dict[str, Any]:
    return {
        "message": (
            f"Query cost is {cost}, which exceeds the single query max cost limit ({MAX_QUERY_COST}).\n\n"
            "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"
            "cost of a query is calculated.\n\n"
            "To query larger amounts of data with fewer limits, bulk operations should be used instead.\n"
            "See https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n"
        ),
        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": MAX_QUERY_COST},
    }


THROTTLED_ERROR = {
    "message": "Throttled",
    "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
}


class ShopifyApi:
    """`POST /admin/api/{version}/graphql.json` over the World's storefront state."""

    def __init__(
        self,
        world: World,
        *,
        bucket_size: float = 2000.0,
        restore_rate: float = 100.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.world = world
        self.bucket = LeakyBucket(bucket_size, restore_rate, clock=clock)
        self._cache: dict[str, tuple[Any, Any]] = {}

    def handle(self, request: Request) -> Response:
        m = _PATH.match(request.path)
        if m is None:
            return Response.json({"errors": "Not Found"}, status=404)
        if request.headers.get("x-shopify-access-token") != self.world.credentials.shopify_access_token:
            return Response.json({"errors": INVALID_TOKEN}, status=401)
        # Shopify answers a retired or future version with the oldest supported one ("falls forward");
        # the sandbox supports one version, so every dated version is answered as that one.
        headers = [("X-Shopify-API-Version", API_VERSION)]
        if request.method != "POST":
            return Response.json({"errors": "Method Not Allowed"}, status=405, headers=[*headers, ("Allow", "POST")])
        body = self._read_body(request)
        if body is None:
            return Response.json(
                {"errors": {"query": "Required parameter missing or invalid"}}, status=400, headers=headers
            )
        return Response.json(self._graphql(*body), headers=headers)

    @staticmethod
    def _read_body(request: Request) -> tuple[str, dict[str, Any], str | None] | None:
        if request.headers.get("content-type", "").startswith("application/graphql"):
            query = request.body.decode("utf-8", errors="replace")
            return (query, {}, None) if query.strip() else None
        try:
            payload = json.loads(request.body or b"null")
        except ValueError:
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return None
        variables = payload.get("variables") or {}
        operation = payload.get("operationName")
        if not isinstance(variables, dict) or not (operation is None or isinstance(operation, str)):
            return None
        return payload["query"], variables, operation

    def _throttle_status(self) -> dict[str, Any]:
        return {
            "maximumAvailable": self.bucket.capacity,
            "currentlyAvailable": int(self.bucket.available),
            "restoreRate": self.bucket.restore_rate,
        }

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": self._throttle_status(),
        }

    def _graphql(self, query: str, inputs: dict[str, Any], operation_name: str | None) -> dict[str, Any]:
        sdl = schema()
        try:
            document = parse(query)
        except GraphQLSyntaxError as exc:
            return {"errors": [errors.syntax_error(exc)]}
        invalid = errors.validation_errors(sdl, document)
        if invalid:
            return {"errors": invalid}
        operation = get_operation_ast(document, operation_name)
        if not isinstance(operation, OperationDefinitionNode):
            message = (
                f'No operation named "{operation_name}"'
                if operation_name
                else "An operation name is required when the document contains more than one operation"
            )
            return {"errors": [{"message": message}]}
        coerced = get_variable_values(sdl, operation.variable_definitions or (), inputs)
        if isinstance(coerced, list):
            return {"errors": errors.variable_errors(coerced, inputs)}
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        pricing = QueryCost(sdl, operation, fragments, coerced)
        requested = pricing.requested()
        if pricing.errors:
            return {"errors": [e.formatted for e in pricing.errors]}
        if requested > MAX_QUERY_COST:
            return {"errors": [_max_cost_error(requested)], "extensions": {"cost": self._cost(requested, None)}}
        if not self.bucket.try_take(requested):
            return {"errors": [THROTTLED_ERROR], "extensions": {"cost": self._cost(requested, None)}}
        with self.world.lock:
            ctx = Context(world=self.world, cache=self._cache)
            result = execute(
                sdl,
                document,
                root_value=Root(ctx),
                context_value=ctx,
                variable_values=inputs,
                operation_name=operation_name,
                field_resolver=resolve_field,
            )
        if not isinstance(result.data, dict | type(None)):  # pragma: no cover - every resolver is synchronous
            raise TypeError("asynchronous execution is not supported")
        actual = min(requested, pricing.actual(result.data))
        self.bucket.refund(requested - actual)
        out: dict[str, Any] = {}
        if result.errors:
            out["errors"] = [_formatted(e) for e in result.errors]
        out["data"] = result.data
        out["extensions"] = {"cost": self._cost(requested, actual)}
        if ctx.search_reports:
            out["extensions"]["search"] = ctx.search_reports
        return out


def _formatted(error: GraphQLError) -> dict[str, Any]:
    formatted = dict(error.formatted)
    if not formatted.get("extensions"):
        formatted.pop("extensions", None)
    return formatted
