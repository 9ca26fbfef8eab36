"""The one place that touches httpx: timeouts, User-Agent, retries, and failure classification.

Timeouts, connection errors, 429 and 5xx are transient: retried here a few times (429 after its
Retry-After, 5xx and timeouts with exponential backoff and jitter), then raised as
TransientConnectorError so the Celery task retries later. 401/403 are permanent ("rejected the
credentials"), so are 404, other 4xx and bodies that are not JSON. Adapters add their product's
own rules for errors inside a 200 (GraphQL `errors`, Frappe `exc_type`) on top.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from inventory_hub.connectors.base import PermanentConnectorError, TransientConnectorError

USER_AGENT = "InventoryHub/0.1 (+inventory reconciliation)"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
MAX_RETRY_AFTER = 60.0  # a longer wait is the Celery task's job, not this request's


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After as seconds (Shopify sends decimals like "2.0"); None when absent or a date.

    Frappe's rate limiter also sends X-RateLimit-Reset (seconds left in its window): used when
    Retry-After is missing.
    """
    value = response.headers.get("Retry-After", response.headers.get("X-RateLimit-Reset"))
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class HttpClient:
    """A JSON-over-HTTP client for one connector, with the hub's failure rules."""

    def __init__(
        self,
        *,
        system: str,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        max_attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.system = system
        self.max_attempts = max_attempts
        self.sleep = sleep
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def request_json(self, method: str, path: str, *, params: Any = None, json_body: Any = None) -> Any:
        """Send a request and return its parsed JSON body, retrying what is transient."""
        last: TransientConnectorError | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self._client.request(method, path, params=params, json=json_body)
            except httpx.TimeoutException as exc:
                last = TransientConnectorError(f"{self.system} did not answer in time ({type(exc).__name__}).")
            except httpx.TransportError as exc:
                last = TransientConnectorError(f"{self.system} could not be reached ({type(exc).__name__}: {exc}).")
            else:
                outcome = self._classify(response)
                if not isinstance(outcome, TransientConnectorError):
                    return outcome
                last = outcome
            if attempt < self.max_attempts:
                self.sleep(self._wait(last, attempt))
        assert last is not None  # noqa: S101  (the loop ran at least once)
        raise last

    def _wait(self, error: TransientConnectorError, attempt: int) -> float:
        if error.retry_after is not None:
            return error.retry_after
        return min(30.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)  # noqa: S311

    def _classify(self, response: httpx.Response) -> Any:
        status = response.status_code
        if status == 429:
            wait = retry_after_seconds(response)
            if wait is not None and wait > MAX_RETRY_AFTER:
                raise TransientConnectorError(
                    f"{self.system} is rate limiting (HTTP 429, retry after {wait:g} s).", retry_after=wait
                )
            return TransientConnectorError(f"{self.system} is rate limiting (HTTP 429).", retry_after=wait or 1.0)
        if status >= 500:
            return TransientConnectorError(f"{self.system} had a server error (HTTP {status}).")
        if status in (401, 403):
            raise PermanentConnectorError(f"{self.system} rejected the credentials (HTTP {status}).")
        if status >= 400:
            raise PermanentConnectorError(f"{self.system} refused the request (HTTP {status}): {_snippet(response)}")
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise PermanentConnectorError(
                f"{self.system} answered HTTP {status} with a body that is not JSON: {_snippet(response)}"
            ) from None


def _snippet(response: httpx.Response, limit: int = 200) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:limit] + ("…" if len(text) > limit else "")
