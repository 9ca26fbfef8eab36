"""Shopify Admin GraphQL over the hub's HttpClient: errors inside a 200, throttling and cost pacing.

Shopify meters GraphQL by calculated query cost in a leaky bucket per app and store (APIS.md §1.6).
Every response reports `extensions.cost.throttleStatus`; the client remembers it and, before the
next query, sleeps until the bucket should hold that query's expected cost, so a long poll runs at
the restore rate instead of bouncing off THROTTLED. A THROTTLED answer is still handled: wait
`(requested − available) / restoreRate` and retry, a bounded number of times.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from inventory_hub.connectors.base import ConnectorConfig, PermanentConnectorError, TransientConnectorError
from inventory_hub.connectors.http import MAX_RETRY_AFTER, HttpClient

SYSTEM = "Shopify"
DEFAULT_API_VERSION = "2025-04"
MAX_THROTTLED_RETRIES = 5
# INTERNAL_SERVER_ERROR inside a 200 is Shopify's "try again": a fixed, short backoff (deterministic,
# so tests can assert it); past these the Celery task's own retry takes over.
INTERNAL_ERROR_BACKOFF = (1.0, 2.0)
FALLBACK_THROTTLE_WAIT = 1.0  # a THROTTLED answer without cost figures


@dataclasses.dataclass(frozen=True, slots=True)
class ThrottleStatus:
    """The cost bucket as the last response described it, and when (on the client's clock)."""

    maximum: float
    available: float
    restore_rate: float
    seen_at: float

    def available_at(self, now: float) -> float:
        """What the bucket should hold at `now`, having refilled at the restore rate since."""
        return min(self.maximum, self.available + self.restore_rate * max(0.0, now - self.seen_at))


class ShopifyClient:
    """Sends GraphQL documents to one shop and returns their checked responses."""

    def __init__(
        self,
        config: ConnectorConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        token = config.credentials.get("access_token")
        if not token:
            raise PermanentConnectorError(f"{SYSTEM} connector {config.name!r} has no access_token credential.")
        version = config.options.get("api_version", DEFAULT_API_VERSION)
        self.path = f"/admin/api/{version}/graphql.json"
        self.sleep = sleep
        self.clock = clock
        self.throttle: ThrottleStatus | None = None
        # The largest requested cost Shopify has reported per operation: our static estimate may be
        # low if Shopify prices a field differently, and pacing should use the real figure.
        self._reported_cost: dict[str, int] = {}
        self._http = HttpClient(
            system=SYSTEM,
            base_url=config.base_url,
            headers={"X-Shopify-Access-Token": token},
            transport=transport,
            sleep=sleep,
        )

    def close(self) -> None:
        """Release the HTTP connection pool."""
        self._http.close()

    def execute(self, query: str, variables: Mapping[str, Any], *, cost: int) -> dict[str, Any]:
        """Run one query (`cost` = its expected requested cost) and return the whole response body."""
        expected = max(cost, self._reported_cost.get(query, 0))
        throttled = 0
        internal_errors = 0
        while True:
            self._pace(expected)
            body = self._http.request_json("POST", self.path, json_body={"query": query, "variables": dict(variables)})
            if not isinstance(body, dict):
                raise PermanentConnectorError(f"{SYSTEM} answered with a body that is not a JSON object.")
            cost_info = self._remember_cost(body)
            requested = _number(cost_info, "requestedQueryCost")
            if requested is not None:
                self._reported_cost[query] = max(self._reported_cost.get(query, 0), int(requested))
            codes = _error_codes(body)
            if "THROTTLED" in codes:
                wait = self._throttled_wait(cost_info, requested if requested is not None else expected)
                throttled += 1
                if throttled > MAX_THROTTLED_RETRIES or wait > MAX_RETRY_AFTER:
                    raise TransientConnectorError(
                        f"{SYSTEM} is throttling GraphQL queries (cost bucket empty).", retry_after=wait
                    )
                self.sleep(wait)
                # The bucket after the wait should hold the requested cost; don't pace a second time.
                self.throttle = None
                continue
            if "INTERNAL_SERVER_ERROR" in codes:
                if internal_errors >= len(INTERNAL_ERROR_BACKOFF):
                    raise TransientConnectorError(f"{SYSTEM} had an internal error: {_messages(body)}")
                self.sleep(INTERNAL_ERROR_BACKOFF[internal_errors])
                internal_errors += 1
                continue
            if body.get("errors"):
                # ACCESS_DENIED (a missing scope), undefinedField (an API version without a field),
                # MAX_COST_EXCEEDED…: asking again will get the same answer.
                raise PermanentConnectorError(f"{SYSTEM} refused the query: {_messages(body)}")
            return body

    def _pace(self, expected: float) -> None:
        if self.throttle is None or self.throttle.restore_rate <= 0:
            return
        # A query costing more than the bucket's maximum can never be covered; the best we can do
        # is start with a full bucket.
        needed = min(expected, self.throttle.maximum)
        available = self.throttle.available_at(self.clock())
        if needed > available:
            self.sleep((needed - available) / self.throttle.restore_rate)

    def _remember_cost(self, body: dict[str, Any]) -> Mapping[str, Any]:
        extensions = body.get("extensions")
        cost = extensions.get("cost") if isinstance(extensions, Mapping) else None
        if not isinstance(cost, Mapping):
            return {}
        status = cost.get("throttleStatus")
        if isinstance(status, Mapping):
            maximum = _number(status, "maximumAvailable")
            available = _number(status, "currentlyAvailable")
            rate = _number(status, "restoreRate")
            if maximum is not None and available is not None and rate is not None:
                self.throttle = ThrottleStatus(maximum, available, rate, self.clock())
        return cost

    def _throttled_wait(self, cost: Mapping[str, Any], requested: float) -> float:
        status = cost.get("throttleStatus")
        available = _number(status, "currentlyAvailable") if isinstance(status, Mapping) else None
        rate = _number(status, "restoreRate") if isinstance(status, Mapping) else None
        if available is None or not rate:
            return FALLBACK_THROTTLE_WAIT
        return max(0.0, (requested - available) / rate)


def _number(mapping: Mapping[str, Any], key: str) -> float | None:
    value = mapping.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _error_codes(body: Mapping[str, Any]) -> set[str]:
    errors = body.get("errors")
    if not isinstance(errors, list):
        return set()
    codes = set()
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, Mapping) else None
        code = extensions.get("code") if isinstance(extensions, Mapping) else None
        if isinstance(code, str):
            codes.add(code)
    return codes


def _messages(body: Mapping[str, Any]) -> str:
    """The `errors` of a response for a person: each message with its code."""
    errors = body.get("errors")
    if isinstance(errors, str):  # REST-style `{"errors": "..."}`
        return errors
    if not isinstance(errors, list) or not errors:
        return repr(errors)
    parts = []
    for error in errors:
        if not isinstance(error, Mapping):
            parts.append(repr(error))
            continue
        message = str(error.get("message", "(no message)")).strip()
        extensions = error.get("extensions")
        code = extensions.get("code") if isinstance(extensions, Mapping) else None
        parts.append(f"{message} ({code})" if code else message)
    return "; ".join(parts)
