"""ShipHero's GraphQL endpoint over the hub's HttpClient, with ShipHero's own failure rules and pacing.

ShipHero answers HTTP 200 for a valid query and reports failures in `errors[]` with the field null
in `data` (Error Glossary). Throttling is a credit bucket: each query costs its `complexity`; when
the bucket lacks the credits the answer is error code 30 with `required_credits`,
`remaining_credits` and `time_remaining` ("N seconds"). We keep our own estimate of the bucket
and wait before a query that would overdraw it, so the limit is rarely hit; when it is anyway
(other clients share the account's bucket), we wait what ShipHero says and retry, a few times.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from inventory_hub.connectors.base import ConnectorConfig, PermanentConnectorError, TransientConnectorError
from inventory_hub.connectors.http import MAX_RETRY_AFTER, HttpClient
from inventory_hub.connectors.shiphero import parsing

SYSTEM = "ShipHero"
# The bucket third-party integrations use today (APIS.md §4.5: 4004 credits, +60/s; the 2020
# announcement said 1001, +15/s). `options["credits"]` / `["restore_rate"]` override both.
DEFAULT_CREDITS = 4004.0
DEFAULT_RESTORE_RATE = 60.0
THROTTLED_CODE = 30
MAX_THROTTLED_RETRIES = 3  # beyond that another client is draining the bucket: let the task retry later
# Words ShipHero and its proxies use for failures that go away by themselves.
_TEMPORARY = re.compile(
    r"internal|temporar|try again|timed? ?out|unavailable|overload|too many requests|throttl", re.IGNORECASE
)


class CreditBucket:
    """Our estimate of ShipHero's credit bucket for this account (capacity, restore rate per second)."""

    def __init__(self, capacity: float, restore_rate: float, clock: Callable[[], float]) -> None:
        self.capacity = capacity
        self.restore_rate = restore_rate
        self._clock = clock
        self._credits = capacity
        self._at = clock()
        # Time we know has passed because we slept it, even if the clock has not moved (a test's clock).
        self._slept_until = self._at

    def _now(self) -> float:
        return max(self._clock(), self._slept_until)

    def _refill(self) -> None:
        now = self._now()
        self._credits = min(self.capacity, self._credits + max(0.0, now - self._at) * self.restore_rate)
        self._at = now

    @property
    def credits(self) -> float:
        """Credits we believe are left now."""
        self._refill()
        return self._credits

    def wait_for(self, cost: float) -> float:
        """Seconds to wait until `cost` credits are there (a cost above capacity waits for a full bucket)."""
        self._refill()
        deficit = min(cost, self.capacity) - self._credits
        # Rounded up to 10 ms: arriving a hair early (float error) would cost a throttled round trip.
        return max(0.0, math.ceil(deficit / self.restore_rate * 100) / 100)

    def will_wait(self, seconds: float) -> None:
        """Record, just before sleeping, that `seconds` are about to pass, so the estimate refills by them."""
        self._refill()
        self._slept_until = self._at + seconds

    def spend(self, cost: float) -> None:
        """Take a response's complexity off the estimate."""
        self._refill()
        self._credits = max(0.0, self._credits - cost)

    def observe(self, remaining: float) -> None:
        """ShipHero told us what is left: believe it over our estimate."""
        self._refill()
        self._credits = max(0.0, min(self.capacity, remaining))


def bucket_for(config: ConnectorConfig, clock: Callable[[], float]) -> CreditBucket:
    """The credit estimate for a connector, from its options or ShipHero's current defaults."""
    try:
        capacity = float(config.options.get("credits", DEFAULT_CREDITS))
        rate = float(config.options.get("restore_rate", DEFAULT_RESTORE_RATE))
    except (TypeError, ValueError):
        raise PermanentConnectorError(
            f"{config.name}: options credits/restore_rate must be numbers, not "
            f"{config.options.get('credits')!r}/{config.options.get('restore_rate')!r}."
        ) from None
    if capacity <= 0 or rate <= 0:
        raise PermanentConnectorError(f"{config.name}: options credits and restore_rate must be positive.")
    return CreditBucket(capacity, rate, clock)


class ShipHeroClient:
    """GraphQL queries to one ShipHero account, paced by a credit bucket shared across calls."""

    def __init__(
        self,
        config: ConnectorConfig,
        *,
        bucket: CreditBucket,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        token = config.credentials.get("access_token")
        if not token:
            raise PermanentConnectorError(f"{config.name} has no ShipHero access token (credentials access_token).")
        self.bucket = bucket
        self.sleep = sleep
        self._http = HttpClient(
            system=SYSTEM,
            base_url=config.base_url,
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
            sleep=sleep,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ShipHeroClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def query(self, document: str, variables: Mapping[str, Any], *, root: str, cost: int) -> dict[str, Any]:
        """Run one query whose root field is `root` and whose complexity we expect to be `cost`."""
        for attempt in range(MAX_THROTTLED_RETRIES + 1):
            self._pace(cost)
            payload = self._http.request_json("POST", "/graphql", json_body={"query": document, "variables": variables})
            if not isinstance(payload, dict):
                raise PermanentConnectorError(f"ShipHero answered with JSON that is not an object: {payload!r:.200}")
            spent = parsing.complexity(payload, root)
            errors = payload.get("errors")
            if not errors:
                self.bucket.spend(spent if spent is not None else cost)
                return payload
            throttled = _throttled(errors)
            if throttled is None:
                raise _error(errors)
            wait, required, remaining = throttled
            if remaining is not None:
                self.bucket.observe(remaining)
            # A long wait is the Celery task's job (as for HttpClient's Retry-After), not this request's.
            if attempt == MAX_THROTTLED_RETRIES or wait > MAX_RETRY_AFTER:
                raise TransientConnectorError(
                    f"ShipHero is out of API credits (needs {required}, has {remaining}); retry in {wait:g} s.",
                    retry_after=wait,
                )
            self.bucket.will_wait(wait)
            self.sleep(wait)
            # ShipHero priced the query itself: trust its price over ours for the retry.
            cost = required if required is not None else cost
        raise AssertionError("unreachable")  # pragma: no cover

    def _pace(self, cost: int) -> None:
        wait = self.bucket.wait_for(cost)
        if wait > 0:
            self.bucket.will_wait(wait)
            self.sleep(wait)


def _throttled(errors: Any) -> tuple[float, int | None, int | None] | None:
    """(seconds to wait, required, remaining credits) if `errors` holds the credit-exhaustion error."""
    if not isinstance(errors, list):
        return None
    for error in errors:
        if isinstance(error, Mapping) and str(error.get("code")) == str(THROTTLED_CODE):
            wait = _seconds(error.get("time_remaining"))
            if wait is None:
                wait = _seconds(error.get("message"))
            if wait is None:
                # No wait means the query alone needs more than the bucket holds: waiting won't help.
                raise PermanentConnectorError(f"ShipHero refused the query as too expensive: {error.get('message')}")
            return wait, _as_int(error.get("required_credits")), _as_int(error.get("remaining_credits"))
    return None


def _seconds(value: Any) -> float | None:
    """`time_remaining` as seconds: a number, "17 seconds", or the message's "try again in 17 seconds"."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(0.0, float(value))
    if isinstance(value, str):
        match = re.search(r"(\d+(?:\.\d+)?)\s*(?:s\b|sec)", value) or re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*", value)
        if match:
            return float(match.group(1))
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return math.ceil(value)
    return None


def _error(errors: Any) -> PermanentConnectorError | TransientConnectorError:
    """The hub's error for a non-throttling `errors[]`: transient if ShipHero calls it temporary."""
    items = errors if isinstance(errors, list) else [errors]
    messages = [str(e.get("message", e)) if isinstance(e, Mapping) else str(e) for e in items]
    codes = [str(e.get("code", "")) for e in items if isinstance(e, Mapping)]
    text = "; ".join(messages)[:500]
    if any(_TEMPORARY.search(m) for m in messages) or any(c.startswith("5") and len(c) == 3 for c in codes):
        return TransientConnectorError(f"ShipHero reported a temporary error: {text}")
    return PermanentConnectorError(f"ShipHero reported an error: {text}")
